/**
 * Spi: a full-duplex SPI device (one chip select), e.g. /dev/spidev0.0 for the SSD1680.
 *
 * Contract:
 * - `transfer(tx)` clocks out `tx` and resolves with the same number of bytes clocked in.
 *   Transfers larger than `maxTransferSize` (spidev's `bufsiz`, 4096 by default) are
 *   split into several kernel transfers by the implementation; the caller never sees
 *   the limit. Chip select stays asserted only within one chunk.
 * - Transfers are one at a time, in call order.
 * - `close()` rejects pending transfers with `CanceledError`; later calls reject with
 *   `TransportError` (code `NOT_OPEN`).
 * - Failures of the bus reject with `TransportError` (code `SPI_WRITE`).
 */
export interface SpiOptions {
  /** spidev bus and chip select: /dev/spidev{bus}.{chipSelect} */
  bus: number;
  chipSelect: number;
  speedHz: number;
  mode?: 0 | 1 | 2 | 3;
  /** Max bytes per kernel transfer (spidev bufsiz). Default 4096. */
  maxTransferSize?: number;
}

export interface Spi {
  readonly maxTransferSize: number;
  readonly isOpen: boolean;
  open(): Promise<void>;
  close(): Promise<void>;
  transfer(tx: Uint8Array): Promise<Uint8Array>;
  /** Like transfer, discarding what comes back. */
  write(tx: Uint8Array): Promise<void>;
}
