// Drives the persona natural flows in headless Chromium against a running CUS and saves a
// screenshot of each page. Run through ../screenshots.sh, which starts CUS.
import { chromium } from "playwright-core";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

const [base, outDir, smsDir, captcha] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 900, height: 900 }, locale: "es-CL" });
let n = 0;
const shot = async (name) => {
  n += 1;
  const file = join(outDir, `${String(n).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(file);
};
const go = (path) => page.goto(base + path);
const RUT = "15.555.555-6";

await go("/"); await shot("inicio");
await go("/informacion"); await shot("mas-informacion");

await go("/natural/registro");
await page.click("button[value=registrar]");
await shot("registro-errores");
await page.fill("#rut", RUT);
await page.fill("#nombres", "Juan Andrés");
await page.fill("#apellido_paterno", "Pérez");
await page.fill("#apellido_materno", "Soto");
await page.selectOption("#pregunta", "2");
await page.fill("#respuesta", "Escuela República de Chile");
await page.fill("#calle", "Avenida Matta");
await page.fill("#numero", "455");
await page.fill("#departamento", "32");
await page.selectOption("#region", "13");
await page.selectOption("#comuna", "13101");
await page.fill("#email", "juan.perez@gmail.com");
await page.fill("#celular", "87654321");
await page.fill("#cus", "la casa del lago azul");
await page.fill("#cus_repetida", "la casa del lago azul");
await page.fill("#captcha", captcha);
await shot("registro");
await page.click("button[value=registrar]");
await shot("registro-exito");

await go("/natural/generar");
await page.fill("#rut", RUT);
await page.click("button[value=validar]");
await page.fill("#respuesta", "escuela republica de chile");
await page.fill("#captcha", captcha);
await shot("generar-pregunta");
await page.click("button[value=generar]");
await shot("generar-exito");

// The generated CUS, from the SMS the outbox worker delivered.
let generated = null;
for (let i = 0; i < 50 && !generated; i++) {
  await new Promise((r) => setTimeout(r, 200));
  let files = [];
  try { files = readdirSync(smsDir).filter((f) => f.endsWith(".json")); } catch { continue; }
  files.sort((a, b) => statSync(join(smsDir, b)).mtimeMs - statSync(join(smsDir, a)).mtimeMs);
  for (const f of files) {
    const m = JSON.parse(readFileSync(join(smsDir, f), "utf8")).body.match(/es (\S+) \./);
    if (m) { generated = m[1]; break; }
  }
}
if (!generated) throw new Error("no generated CUS was delivered");

await go("/Account");
await page.fill("#rut", RUT);
await page.fill("#cus", generated);
await shot("ingreso");
await page.click("button[value=login]");
await shot("nueva-clave-obligatoria");
await page.fill("#cus_nueva", "mi propia frase secreta");
await page.fill("#cus_repetida", "mi propia frase secreta");
await page.click("button[value=cambiar]");

await go("/natural/cambiar");
await page.fill("#rut", RUT);
await page.fill("#cus", "mi propia frase secreta");
await page.fill("#cus_nueva", "otra frase aun mas larga");
await page.fill("#cus_repetida", "otra frase aun mas larga");
await page.fill("#captcha", captcha);
await shot("cambiar");
await page.click("button[value=cambiar]");
await shot("cambiar-exito");

await go("/natural/actualizar");
await page.fill("#rut", RUT);
await page.fill("#cus", "otra frase aun mas larga");
await page.fill("#captcha", captcha);
await page.click("button[value=ingresar]");
await page.fill("#email", "juan@nuevo.cl");
await page.check("#sin_celular");
await shot("actualizar");
await page.click("button[value=guardar]");
await shot("actualizar-exito");

await go("/no-tengo-correo"); await shot("no-tengo-correo");
await browser.close();
