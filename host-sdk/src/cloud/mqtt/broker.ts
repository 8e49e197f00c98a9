import { createServer, type Server } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { identityOf, mayPublish, maySubscribe } from '../../protocol/index';
import { type CloudLogger, silentLogger } from '../log';

export interface EmbeddedBrokerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (a free port). */
  port?: number;
  /** Topic root prefix the ACL rules apply under (tests). Default ''. */
  root?: string;
  /**
   * Who may connect. Default: the client id must be a contract identity (`hs-*`,
   * `m-*`, `cloud[-*]`), the username (if given) must equal it, and cloud clients must
   * present `cloudPassword` when one is set. Development only: production brokers
   * authenticate devices by TLS client certificate or password file.
   */
  authenticate?: (clientId: string, username: string | undefined, password: Buffer | undefined) => boolean | Promise<boolean>;
  cloudPassword?: string;
  logger?: CloudLogger;
  /** Extra aedes options (concurrency, queueLimit, ...). */
  aedes?: Partial<AedesOptions>;
}

export interface EmbeddedBroker {
  url: string;
  port: number;
  aedes: Aedes;
  /** Connected clients right now. */
  readonly connections: number;
  close(): Promise<void>;
}

/**
 * The embedded broker for `make run` and tests: aedes (MQTT 3.1.1, no `$share`), with
 * per-device ACL hooks built from the protocol's `mayPublish` / `maySubscribe` (a
 * device publishes and subscribes only under its own id; the client id is the
 * identity), and TCP_NODELAY on every accepted socket.
 */
export async function startEmbeddedBroker(o: EmbeddedBrokerOptions = {}): Promise<EmbeddedBroker> {
  const root = o.root ?? '';
  const log = o.logger ?? silentLogger;
  const authenticate =
    o.authenticate ??
    ((id: string, username: string | undefined, password: Buffer | undefined) => {
      const who = identityOf(id);
      if (!who) return false;
      if (username !== undefined && username !== '' && username !== id) return false;
      if (who.role === 'cloud' && o.cloudPassword !== undefined) return password?.toString() === o.cloudPassword;
      return true;
    });
  const aedes = await Aedes.createBroker({
    concurrency: 1000,
    ...o.aedes,
    authenticate: (client, username, password, done) => {
      Promise.resolve(authenticate(client.id, username, password)).then(
        (ok) => {
          if (ok) return done(null, true);
          log.warn('broker.auth_refused', { clientId: client.id });
          const err = Object.assign(new Error('not authorised'), { returnCode: 5 as const });
          done(err, false);
        },
        (err) => done(Object.assign(err instanceof Error ? err : new Error(String(err)), { returnCode: 3 as const }), false),
      );
    },
    authorizePublish: (client, packet, done) => {
      if (!client || mayPublish(client.id, packet.topic, root)) return done(null);
      log.warn('broker.publish_refused', { clientId: client.id, topic: packet.topic });
      done(new Error('publish not authorised')); // aedes drops the message and disconnects the client
    },
    authorizeSubscribe: (client, sub, done) => {
      if (maySubscribe(client.id, sub.topic, root)) return done(null, sub);
      log.warn('broker.subscribe_refused', { clientId: client.id, topic: sub.topic });
      done(null, null); // granted QoS 128 (failure), the connection stays up
    },
  });
  const server: Server = createServer((socket) => {
    socket.setNoDelay(true);
    aedes.handle(socket);
  });
  server.maxConnections = 100_000;
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://${host}:${port}`,
    port,
    aedes,
    get connections() {
      return aedes.connectedClients;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        aedes.close(() => undefined);
        // close() waits for every socket; aedes.close() ends the clients
      }),
  };
}
