// The captcha's audio route to completion: "Escuchar el código" gives a WAV; decoded, its
// beep groups spell a 5-digit code and its length fits that code; typed in, the code
// registers the person. (This instance's test answer is not digits, so the code typed is
// checked against the real one.)
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "../lib/stack.mjs";
import { checkPage, driver, launch, newPage } from "../lib/browser.mjs";
import { naturalPerson } from "../lib/people.mjs";

let stack, browser;
before(async () => {
  stack = await startStack({ portal: false });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A PCM 16-bit mono WAV: its sample rate and samples. */
function decodeWav(buf) {
  assert.equal(buf.toString("ascii", 0, 4), "RIFF");
  assert.equal(buf.toString("ascii", 8, 12), "WAVE");
  let offset = 12;
  let rate = 0;
  let bits = 0;
  let channels = 0;
  while (offset + 8 <= buf.length) {
    const id = buf.toString("ascii", offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    const body = offset + 8;
    if (id === "fmt ") {
      assert.equal(buf.readUInt16LE(body), 1, "PCM");
      channels = buf.readUInt16LE(body + 2);
      rate = buf.readUInt32LE(body + 4);
      bits = buf.readUInt16LE(body + 14);
    } else if (id === "data") {
      assert.equal(channels, 1);
      assert.equal(bits, 16);
      const samples = new Int16Array(size / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + i * 2);
      return { rate, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error("no data chunk");
}

/** What a listener does: counts the beeps of each group (a long silence ends a group). */
function countBeepGroups({ rate, samples }) {
  const window = Math.round(rate * 0.02);
  const loud = [];
  for (let i = 0; i < samples.length; i += window) {
    let peak = 0;
    for (let j = i; j < Math.min(i + window, samples.length); j++) peak = Math.max(peak, Math.abs(samples[j]));
    loud.push(peak > 12000);
  }
  const groups = [];
  let beeps = 0;
  let quiet = Infinity;
  for (const l of loud) {
    if (l) {
      if (quiet > 25 && beeps > 0) { groups.push(beeps); beeps = 0; } // > 0.5 s of silence
      if (quiet > 0) beeps += 1;
      quiet = 0;
    } else quiet += 1;
  }
  if (beeps > 0) groups.push(beeps);
  return groups.join("");
}

test("'Escuchar el código' plays the same code: the WAV decodes, fits the code, and registers", async () => {
  const page = await newPage(browser);
  const d = driver(page, "keyboard");
  const p = naturalPerson("audio");
  await page.goto(stack.base + "/natural/registro");
  await checkPage(page, "registro-natural");
  const href = await page.getAttribute("[data-captcha-audio]", "href");
  const response = await page.request.get(stack.base + href);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()["content-type"], "audio/wav");
  const wav = decodeWav(await response.body());
  const code = countBeepGroups(wav);
  assert.match(code, /^[2-9]{5}$/, `decoded ${code}`);
  // Its length fits the code: lead 0.6 s, 0.3 s a beep, 1.1 s between groups, tail 0.6 s.
  const beeps = [...code].reduce((sum, c) => sum + Number(c), 0);
  const expectedMs = 600 + beeps * 300 + 4 * 1100 + 600;
  const ms = (wav.samples.length / wav.rate) * 1000;
  assert.ok(Math.abs(ms - expectedMs) < 10, `${ms} ms for ${code}, expected ${expectedMs}`);
  // Listening does not use the captcha up; the code heard registers the person.
  for (const [field, value] of [["#rut", p.rut], ["#nombres", p.nombres], ["#apellido_paterno", p.apellidoPaterno],
    ["#respuesta", p.respuesta], ["#calle", p.calle], ["#numero", p.numero], ["#email", p.email],
    ["#cus", p.cus], ["#cus_repetida", p.cus]]) {
    await page.fill(field, value);
  }
  await page.selectOption("#pregunta", p.pregunta);
  await page.selectOption("#region", p.region);
  await page.selectOption("#comuna", p.comuna);
  await page.check("#sin_celular");
  await d.fill("#captcha", code);
  await d.enterIn("#captcha");
  assert.equal(await page.locator("h1").innerText(), "Registro exitoso");
  // Used once: the same audio is gone.
  assert.equal((await page.request.get(stack.base + href)).status(), 404);
  await page.context().close();
});

test("a wrong code heard is refused beside the field, and what was typed is kept", async () => {
  const page = await newPage(browser);
  await page.goto(stack.base + "/natural/registro");
  await page.fill("#rut", "11.111.111-1");
  await page.fill("#captcha", "22222");
  await driver(page, "mouse").enterIn("#captcha");
  assert.equal(await page.inputValue("#rut"), "11.111.111-1");
  assert.match(await page.locator("#captcha-error").innerText(), /.+/);
  await page.context().close();
});
