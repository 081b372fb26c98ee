// The citizen's flows end to end, each once with the mouse and once with the keyboard
// alone (Tab, Shift+Tab, Enter, Space; the focus visible at every step), every page on the
// way through the page checks (axe-core, 320/360 px, touch targets, screenshots):
// register (natural) → verify the e-mail from the outbox → sign in through the example
// portal → change the CUS → generate a new CUS from the outbox message and sign in with it
// (forced change) → update data → register a company and sign in → "Mis sesiones": end
// another session → log out.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { CAPTCHA, startStack } from "../lib/stack.mjs";
import { checkPage, driver, launch, newPage } from "../lib/browser.mjs";
import { company, naturalPerson } from "../lib/people.mjs";

let stack, browser;
before(async () => {
  stack = await startStack();
  browser = await launch();
});
after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** The text of the page's main heading and status. */
const mainText = (page) => page.locator("main").innerText();
const heading = (page) => page.locator("h1").innerText();

async function registerNatural(page, d, p, { submitWithEnter }) {
  await page.goto(stack.base + "/");
  await checkPage(page, "inicio");
  await d.press(".menu a[href='/natural/registro']");
  await checkPage(page, "registro-natural");
  await d.fill("#rut", p.rut);
  await d.fill("#nombres", p.nombres);
  await d.fill("#apellido_paterno", p.apellidoPaterno);
  await d.fill("#apellido_materno", p.apellidoMaterno);
  await d.select("#pregunta", p.pregunta);
  await d.fill("#respuesta", p.respuesta);
  await d.fill("#calle", p.calle);
  await d.fill("#numero", p.numero);
  await d.fill("#departamento", p.departamento);
  await d.select("#region", p.region);
  await d.select("#comuna", p.comuna);
  await d.fill("#email", p.email);
  await d.fill("#celular", p.celular);
  await d.fill("#cus", p.cus);
  // A mistake first: the form comes back with the message beside the field, what was
  // typed kept (never the CUS), and the summary focused.
  await d.fill("#cus_repetida", "otra cosa distinta");
  await d.fill("#captcha", CAPTCHA);
  if (submitWithEnter) await d.enterIn("#captcha");
  else await d.press("button[value=registrar]");
  await checkPage(page, "registro-natural-clave-distinta");
  assert.equal(await page.inputValue("#rut"), p.rut);
  assert.equal(await page.inputValue("#email"), p.email);
  assert.equal(await page.inputValue("#cus"), "");
  assert.equal(await page.evaluate(() => document.activeElement.id), "error-summary");
  await d.fill("#respuesta", p.respuesta); // a secret answer is never shown back
  await d.fill("#cus", p.cus);
  await d.fill("#cus_repetida", p.cus);
  await d.fill("#captcha", CAPTCHA);
  if (submitWithEnter) await d.enterIn("#captcha");
  else await d.press("button[value=registrar]");
  assert.equal(await heading(page), "Registro exitoso");
  await checkPage(page, "registro-natural-exito");
}

async function verifyEmail(page, p) {
  const [link] = await stack.outbox.mail(p.email, /http:\/\/\S+\/verificar-correo\?token=[\w-]+/);
  await page.goto(link);
  assert.match(await mainText(page), /Confirmamos su correo/);
  await checkPage(page, "correo-confirmado");
}

/** Signs in at CUS's login page (already shown) and lands back on the portal. */
async function signInThroughPortal(page, d, rut, cus, { consent, sso = false }) {
  await page.goto(stack.portalBase + "/");
  await d.press("a[href='/login']");
  if (sso) {
    // Already signed in to CUS in this browser (single sign-on): straight back.
    assert.match(await page.locator("body").innerText(), /Ingresó con Clave Única SENCE/);
    return;
  }
  assert.ok(page.url().startsWith(stack.base + "/Account"), page.url());
  assert.match(await mainText(page), /Está ingresando a: Portal de Capacitación \(ejemplo\)/);
  await checkPage(page, "ingreso-desde-portal");
  await d.fill("#rut", rut);
  await d.fill("#cus", cus);
  await d.enterIn("#cus");
  if (consent) {
    assert.match(await mainText(page), /Portal de Capacitación \(ejemplo\)/);
    await checkPage(page, "autorizar-portal");
    await d.press("button[value=allow]", { key: "Space" });
  }
  assert.ok(page.url().startsWith(stack.portalBase), page.url());
  assert.match(await page.locator("body").innerText(), /Ingresó con Clave Única SENCE/);
}

async function changeCus(page, d, p, next) {
  await page.goto(stack.base + "/");
  await d.press(".menu a[href='/natural/cambiar']");
  await d.fill("#rut", p.rut);
  await d.fill("#cus", p.cus);
  await d.fill("#cus_nueva", next);
  await d.fill("#cus_repetida", next);
  await d.fill("#captcha", CAPTCHA);
  await d.press("button[value=cambiar]");
  assert.equal(await heading(page), "CUS cambiada");
  await checkPage(page, "cambiar-exito");
  p.cus = next;
}

async function generateAndForcedChange(page, d, p, next) {
  await page.goto(stack.base + "/");
  await d.press(".menu a[href='/natural/generar']");
  await d.fill("#rut", p.rut);
  await d.fill("#captcha", CAPTCHA);
  await d.enterIn("#rut");
  await checkPage(page, "generar-pregunta");
  await d.fill("#respuesta", p.respuesta.toLowerCase());
  await d.fill("#captcha", CAPTCHA);
  await d.press("button[value=generar]");
  assert.equal(await heading(page), "Nueva CUS generada");
  await checkPage(page, "generar-exito");
  const [, generated] = await stack.outbox.sms(p.celular, /es (\S+) \./);
  await page.goto(stack.base + "/Account");
  await d.fill("#rut", p.rut);
  await d.fill("#cus", generated);
  await d.press("button[value=login]");
  assert.ok(page.url().includes("/natural/nueva-clave"), page.url());
  await checkPage(page, "nueva-clave-obligatoria");
  await d.fill("#cus_nueva", next);
  await d.fill("#cus_repetida", next);
  await d.enterIn("#cus_repetida");
  p.cus = next;
  await checkPage(page, "nueva-clave-exito");
}

async function updateData(page, d, p) {
  await page.goto(stack.base + "/");
  await d.press(".menu a[href='/natural/actualizar']");
  await d.fill("#rut", p.rut);
  await d.fill("#cus", p.cus);
  await d.fill("#captcha", CAPTCHA);
  await d.press("button[value=ingresar]");
  await checkPage(page, "actualizar-datos");
  assert.equal(await page.inputValue("#email"), p.email);
  p.email = p.email.replace("@", ".nuevo@");
  await d.fill("#email", p.email);
  await d.check("#sin_celular");
  await d.press("button[value=guardar]");
  assert.equal(await heading(page), "Datos actualizados");
  await checkPage(page, "actualizar-exito");
}

async function registerCompanyAndSignIn(page, d, c) {
  await page.goto(stack.base + "/");
  await d.press("a[href='/juridica/registro']");
  await d.fill("#rut", c.rut);
  await d.fill("#razon_social", c.razonSocial);
  await d.fill("#giro", c.giro);
  await d.select("#pregunta", c.pregunta);
  await d.fill("#respuesta", c.respuesta);
  await d.fill("#calle", c.calle);
  await d.fill("#numero", c.numero);
  await d.select("#region", c.region);
  await d.select("#comuna", c.comuna);
  await d.fill("#email", c.email);
  await d.fill("#rep_rut", c.repRut);
  await d.fill("#rep_nombres", c.repNombres);
  await d.fill("#rep_apellidos", c.repApellidos);
  await d.fill("#rep_email", c.repEmail);
  await d.check("#sin_celular");
  await d.fill("#cus", c.cus);
  await d.fill("#cus_repetida", c.cus);
  await d.fill("#captcha", CAPTCHA);
  await d.enterIn("#captcha");
  assert.equal(await heading(page), "Registro exitoso");
  await checkPage(page, "registro-juridica-exito");
  await page.goto(stack.base + "/Account");
  await d.fill("#rut", c.rut);
  await d.fill("#cus", c.cus);
  await d.press("button[value=login]");
  assert.match(await mainText(page), /Sesión iniciada/);
  assert.match(await mainText(page), /Capacitaciones del Sur/);
  await checkPage(page, "sesion-iniciada");
  await d.press("button[value=logout]");
  assert.equal(await heading(page), "Sesión cerrada");
  await checkPage(page, "sesion-cerrada");
}

/** "Mis sesiones" from a second browser: the first one's session (signed in to the
 *  portal) is listed with its portal, and ended; the portal is told and signs it out. */
async function endAnotherSession(page, d, p) {
  const other = await newPage(browser);
  const o = driver(other, d.mode);
  await other.goto(stack.base + "/Account");
  await o.fill("#rut", p.rut);
  await o.fill("#cus", p.cus);
  await o.enterIn("#cus");
  assert.match(await mainText(other), /Sesión iniciada/);
  await o.press("a[href='/mis-sesiones']");
  await checkPage(other, "mis-sesiones");
  const listed = await other.locator(".sessions-list > li").count();
  assert.equal(listed, 2, "this browser and the first one");
  assert.match(await mainText(other), /Portal de Capacitación \(ejemplo\)/);
  await o.press("form[action='/mis-sesiones/cerrar'] button");
  assert.equal(await other.locator(".sessions-list > li").count(), 1);
  await checkPage(other, "mis-sesiones-una");
  await o.press("a[href='/autorizaciones']");
  assert.match(await mainText(other), /Portal de Capacitación \(ejemplo\)/);
  await checkPage(other, "mis-autorizaciones");
  // "Mis datos" for a login this recent: what CUS holds, and the download button.
  await other.goto(stack.base + "/mis-datos");
  assert.match(await mainText(other), /Descargar mis datos/);
  await checkPage(other, "mis-datos");
  // The portal got the back-channel notice: the first browser is signed out there.
  for (let i = 0; i < 50; i++) {
    await page.goto(stack.portalBase + "/");
    if (/Portal de ejemplo/.test(await page.locator("body").innerText())) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.match(await page.locator("body").innerText(), /Portal de ejemplo/);
  await other.context().close();
}

async function logOut(page, d) {
  await page.goto(stack.portalBase + "/");
  await d.press("a[href='/logout']");
  // The portal names this very session (id_token_hint): CUS ends it and goes back.
  assert.ok(page.url().startsWith(stack.portalBase), page.url());
  assert.match(await page.locator("body").innerText(), /Portal de ejemplo/);
  // Signed out of CUS too: the portal's next login asks for the CUS again.
  await d.press("a[href='/login']");
  assert.ok(page.url().startsWith(stack.base + "/Account"), page.url());
}

for (const mode of (process.env.E2E_MODES ?? "mouse,keyboard").split(",")) {
  test(`the citizen's flows with the ${mode}`, async () => {
    const page = await newPage(browser);
    const d = driver(page, mode);
    const p = naturalPerson(mode);
    await registerNatural(page, d, p, { submitWithEnter: mode === "keyboard" });
    await verifyEmail(page, p);
    await signInThroughPortal(page, d, p.rut, p.cus, { consent: true });
    await changeCus(page, d, p, `${p.cus} renovada`);
    await generateAndForcedChange(page, d, p, "mi propia frase secreta");
    await updateData(page, d, p);
    await signInThroughPortal(page, d, p.rut, p.cus, { consent: false, sso: true });
    await endAnotherSession(page, d, p);
    await signInThroughPortal(page, d, p.rut, p.cus, { consent: false });
    await logOut(page, d);
    const companyPage = await newPage(browser);
    await registerCompanyAndSignIn(companyPage, driver(companyPage, mode), company(mode));
    await page.context().close();
    await companyPage.context().close();
  });
}

test("registers by pressing Enter in the captcha field", async () => {
  const page = await newPage(browser);
  const d = driver(page, "mouse");
  const p = naturalPerson("enter");
  await page.goto(stack.base + "/natural/registro");
  await page.fill("#rut", p.rut);
  await page.fill("#nombres", p.nombres);
  await page.fill("#apellido_paterno", p.apellidoPaterno);
  await page.selectOption("#pregunta", p.pregunta);
  await page.fill("#respuesta", p.respuesta);
  await page.fill("#calle", p.calle);
  await page.fill("#numero", p.numero);
  await page.selectOption("#region", p.region);
  await page.selectOption("#comuna", p.comuna);
  await page.fill("#email", p.email);
  await page.check("#sin_celular");
  await page.fill("#cus", p.cus);
  await page.fill("#cus_repetida", p.cus);
  await page.fill("#captcha", CAPTCHA);
  await d.enterIn("#captcha");
  assert.equal(await heading(page), "Registro exitoso");
  // Registered for real: the welcome e-mail is in the outbox.
  await stack.outbox.mail(p.email, /verificar-correo/);
  await page.context().close();
});

test("'Refrescar' replaces the captcha in place and keeps what was typed", async () => {
  const page = await newPage(browser);
  await page.goto(stack.base + "/natural/registro");
  await page.fill("#rut", "11.111.111-1");
  const before = await page.getAttribute("[data-captcha-id]", "value");
  await page.click("[data-captcha-refresh]");
  await page.waitForFunction((old) => document.querySelector("[data-captcha-id]").value !== old, before);
  assert.equal(page.url(), stack.base + "/natural/registro");
  assert.equal(await page.inputValue("#rut"), "11.111.111-1");
  assert.equal(await page.evaluate(() => document.activeElement.id), "captcha");
  assert.match(await page.getAttribute("[data-captcha-audio]", "href"), /\/captcha\/audio\?id=/);
  await page.context().close();
});
