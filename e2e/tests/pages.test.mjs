// Every page a person reaches without signing in, and the error state of each form:
// axe-core, no sideways scroll at 320/360 px, touch targets, screenshots.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startStack } from "../lib/stack.mjs";
import { checkPage, driver, launch, newPage } from "../lib/browser.mjs";

let stack, browser;
before(async () => {
  stack = await startStack({ portal: false });
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

const PAGES = [
  ["inicio", "/"],
  ["mas-informacion", "/informacion"],
  ["no-tengo-correo", "/no-tengo-correo"],
  ["ingreso", "/Account"],
  ["registro-natural", "/natural/registro"],
  ["registro-juridica", "/juridica/registro"],
  ["generar", "/natural/generar"],
  ["generar-juridica", "/juridica/generar"],
  ["cambiar", "/natural/cambiar"],
  ["actualizar", "/natural/actualizar"],
  ["cierre-de-sesion", "/end_session"],
  ["pagina-no-encontrada", "/otra/generar"],
  ["enlace-no-valido", "/verificar-correo?token=malo"],
  ["autorizaciones-sin-sesion", "/autorizaciones"],
];

test("every page passes axe, fits 320 and 360 px, and has large touch targets", async () => {
  const page = await newPage(browser);
  for (const [name, path] of PAGES) {
    await page.goto(stack.base + path);
    await checkPage(page, name);
  }
});

// The form sent empty: the error state of each page, with its summary focused and linked.
const FORMS = [
  ["registro-natural-errores", "/natural/registro", "button[value=registrar]"],
  ["registro-juridica-errores", "/juridica/registro", "button[value=registrar]"],
  ["generar-errores", "/natural/generar", "button[value=validar]"],
  ["cambiar-errores", "/natural/cambiar", "button[value=cambiar]"],
  ["actualizar-errores", "/natural/actualizar", "button[value=ingresar]"],
  ["ingreso-errores", "/Account", "button[value=login]"],
];

test("every error state passes the same checks, its summary takes the focus and links to the fields", async () => {
  const page = await newPage(browser);
  const d = driver(page, "mouse");
  for (const [name, path, submit] of FORMS) {
    await page.goto(stack.base + path);
    await d.press(submit);
    await checkPage(page, name);
    const summary = await page.evaluate(() => {
      const s = document.getElementById("error-summary");
      return s && {
        focused: document.activeElement === s,
        links: [...s.querySelectorAll("a[href^='#']")].map((a) => a.getAttribute("href").slice(1)),
      };
    });
    assert.ok(summary, `${name}: no error summary`);
    assert.ok(summary.focused, `${name}: the error summary does not have the focus`);
    assert.ok(summary.links.length > 0, `${name}: the summary links to no field`);
    for (const id of summary.links) {
      const tied = await page.evaluate((id) => {
        const field = document.getElementById(id);
        const described = (field?.getAttribute("aria-describedby") ?? "").split(/\s+/);
        return field && field.getAttribute("aria-invalid") === "true" && described.includes(`${id}-error`)
          && !!document.getElementById(`${id}-error`);
      }, id);
      assert.ok(tied, `${name}: #${id} is not tied to its message (aria-invalid + aria-describedby)`);
    }
  }
});
