/**
 * finiteIsDecimal (dataframe-codec.ts) decides, without the regular expression in the common case,
 * what DECIMAL_TEXT decides of a string `Number` reads as finite: checked here against the expression
 * itself over every string of up to 4 characters from an alphabet of digits, signs, points, exponent
 * and literal-prefix letters and whitespace.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { DECIMAL_TEXT, finiteIsDecimal } from '../../src/codecs/dataframe-codec.js';

it('agrees with DECIMAL_TEXT on every finite string of the alphabet up to 4 characters', () => {
  const alphabet = ['0', '1', '9', '.', '-', '+', 'e', 'x', 'X', 'o', 'b', 'B', ' ', '\t', '\u00a0', '_', 'I'];
  let finite = 0;
  const walk = (text: string, depth: number): void => {
    if (text !== '' && Number.isFinite(Number(text))) {
      finite++;
      assert.equal(finiteIsDecimal(text), DECIMAL_TEXT.test(text), JSON.stringify(text));
    }
    if (depth > 0) for (const c of alphabet) walk(text + c, depth - 1);
  };
  walk('', 4);
  assert.ok(finite > 1000, `only ${finite} finite strings`);
  for (const text of ['0x10', '0b1', '0o7', ' 0x1', '   ', '00.5', '0.', '0', '-0.25', '.5', '1e5']) {
    assert.equal(finiteIsDecimal(text), DECIMAL_TEXT.test(text), text);
  }
});
