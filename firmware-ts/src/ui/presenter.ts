/**
 * Puts screens on an e-ink display: renders a `Screen` into a bitmap of the display's
 * size and hands it to the driver, which refreshes only the changed window (partial)
 * within its full-refresh policy.
 */
import type { EinkDisplay, UpdateInfo, UpdateOptions } from '@handset/device-drivers/ssd1680';
import type { QrFitOptions } from './qr';
import { renderScreen, type Screen } from './screens';

export class ScreenPresenter {
  constructor(
    readonly display: EinkDisplay,
    private readonly qr: QrFitOptions = {},
  ) {}

  /** Renders and shows `screen`. Rendering errors (e.g. `QrDoesNotFitError`) reject before the panel is touched. */
  show(screen: Screen, options: UpdateOptions = {}): Promise<UpdateInfo> {
    const frame = renderScreen(screen, { width: this.display.width, height: this.display.height, qr: this.qr });
    return this.display.update(frame, options);
  }
}
