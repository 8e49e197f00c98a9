/** The one MQTT.js connect for every client of the project: Nagle off, capped + fully jittered reconnect backoff. */
export * from './connect';
