// Test people: valid RUTs (módulo 11 check digit) that no other test uses.
let next = 15_000_000 + (process.pid % 1000) * 1000;

/** A fresh, valid RUT, formatted 12.345.678-5. */
export function freshRut(base) {
  const n = base ?? ++next;
  let sum = 0;
  let factor = 2;
  for (const digit of String(n).split("").reverse()) {
    sum += Number(digit) * factor;
    factor = factor === 7 ? 2 : factor + 1;
  }
  const dv = 11 - (sum % 11);
  const check = dv === 11 ? "0" : dv === 10 ? "K" : String(dv);
  return `${n.toLocaleString("de-DE")}-${check}`;
}

export function naturalPerson(tag) {
  const rut = freshRut();
  const user = `${tag}.${rut.replace(/\D/g, "")}`;
  return {
    rut,
    nombres: "Juan Andrés",
    apellidoPaterno: "Pérez",
    apellidoMaterno: "Soto",
    pregunta: "2",
    respuesta: "Escuela República de Chile",
    calle: "Avenida Matta",
    numero: "455",
    departamento: "32",
    region: "13",
    comuna: "13101",
    email: `${user}@example.cl`,
    celular: String(10_000_000 + (Number(rut.replace(/\D/g, "").slice(0, -1)) % 90_000_000)),
    cus: "la casa del lago azul",
  };
}

export function company(tag) {
  const rut = freshRut(70_000_000 + (next++ % 1_000_000));
  return {
    rut,
    razonSocial: "Capacitaciones del Sur SpA",
    giro: "Capacitación",
    pregunta: "1",
    respuesta: "Temuco",
    calle: "Calle Bulnes",
    numero: "120",
    region: "9",
    comuna: "9101",
    email: `empresa.${tag}.${rut.replace(/\D/g, "")}@example.cl`,
    repRut: freshRut(),
    repNombres: "María José",
    repApellidos: "Rojas Díaz",
    repEmail: `rep.${tag}.${rut.replace(/\D/g, "")}@example.cl`,
    cus: "empresa del sur capacita",
  };
}
