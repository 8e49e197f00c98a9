/**
 * The MPM ID-Length-Value scanner. Works on code points (the spec's "characters"), so a
 * length of "04" covers "最佳运输" (4 characters, 12 UTF-8 bytes). Never throws: a
 * structural fault ends the scan of that level and is returned with its position.
 */

/** One data object as read from the payload. */
export interface MpmObject {
  /** Two-digit ID. */
  readonly id: string;
  /** Value as text (for a template, the raw text of its children). */
  readonly value: string;
  /** Length in characters (code points) = the Length field. */
  readonly length: number;
  /** Character offset of the ID in the whole payload. */
  readonly offset: number;
  /** Character offset of the value. */
  readonly valueOffset: number;
  /** Children, when the object is a template that parsed cleanly. */
  children?: MpmObject[];
}

export interface IlvFault {
  readonly code: 'ILV_TRUNCATED' | 'ILV_BAD_ID' | 'ILV_BAD_LENGTH' | 'ILV_LENGTH_PAST_END';
  readonly message: string;
  /** Character offset in the payload. */
  readonly offset: number;
}

const isDigit = (c: string | undefined) => c !== undefined && c.length === 1 && c >= '0' && c <= '9';

/**
 * Scans chars[start, end) as a list of ID-Length-Value objects. `base` is added to
 * offsets (the position of chars[0] in the payload).
 */
export function scanIlv(
  chars: readonly string[],
  start: number,
  end: number,
  base = 0,
): { objects: MpmObject[]; fault?: IlvFault } {
  const objects: MpmObject[] = [];
  let i = start;
  while (i < end) {
    if (end - i < 4)
      return {
        objects,
        fault: {
          code: 'ILV_TRUNCATED',
          message: `${end - i} character(s) left where an ID and a length (4 characters) were expected`,
          offset: base + i,
        },
      };
    const [a, b, c, d] = [chars[i], chars[i + 1], chars[i + 2], chars[i + 3]];
    if (!isDigit(a) || !isDigit(b))
      return {
        objects,
        fault: { code: 'ILV_BAD_ID', message: `ID ${JSON.stringify(`${a}${b}`)} is not two digits`, offset: base + i },
      };
    if (!isDigit(c) || !isDigit(d))
      return {
        objects,
        fault: {
          code: 'ILV_BAD_LENGTH',
          message: `length ${JSON.stringify(`${c}${d}`)} of ID ${a}${b} is not two digits`,
          offset: base + i + 2,
        },
      };
    const length = Number.parseInt(`${c}${d}`, 10);
    if (length === 0)
      return {
        objects,
        fault: {
          code: 'ILV_BAD_LENGTH',
          message: `ID ${a}${b} has length 00 (values are 1-99 characters)`,
          offset: base + i + 2,
        },
      };
    if (i + 4 + length > end)
      return {
        objects,
        fault: {
          code: 'ILV_LENGTH_PAST_END',
          message: `ID ${a}${b} declares ${length} characters but only ${end - i - 4} remain`,
          offset: base + i + 2,
        },
      };
    objects.push({
      id: `${a}${b}`,
      value: chars.slice(i + 4, i + 4 + length).join(''),
      length,
      offset: base + i,
      valueOffset: base + i + 4,
    });
    i += 4 + length;
  }
  return { objects };
}
