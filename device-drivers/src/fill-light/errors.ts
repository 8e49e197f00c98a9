import { HandsetError, type HandsetErrorOptions } from '../core/errors';

/**
 * Fill-light errors. Codes: `LED_PWM` (the PWM channel refused a write or failed to
 * start), `LED_GPIO` (a GPIO write failed), `LED_PIN` (no such pin / mode),
 * `LED_CONFIG` (bad settings, e.g. a PWM frequency under 20 kHz), `LED_NOT_READY`
 * (the johnny-five board did not become ready in time).
 */
export class FillLightError extends HandsetError {
  constructor(code: string, message: string, options: HandsetErrorOptions = {}) {
    super(code, message, { device: 'fill-light', ...options });
  }
}
