//! The persona jurídica of the tests: a company registered through the forms with its
//! representative.

use super::TestApp;
use super::forms::{FormPage, open_form, post};

pub const RUT: &str = "76.086.428-5";
pub const CUS: &str = "capacitacion del sur clave";

/// Every field of a valid registration of the company `RUT`, on `form`.
pub fn company(form: &FormPage) -> Vec<(&'static str, String)> {
    [
        ("csrf", form.csrf.as_str()),
        ("captcha_id", form.captcha_id.as_str()),
        ("captcha", form.captcha.as_str()),
        ("rut", RUT),
        ("razon_social", "Capacitaciones del Sur SpA"),
        ("giro", "Otec"),
        ("pregunta", "4"),
        ("respuesta", "Asistente contable"),
        ("calle", "Los Carrera"),
        ("numero", "1200"),
        ("region", "8"),
        ("comuna", "8101"),
        ("email", "contacto@capsur.cl"),
        ("telefono_particular", "41 222 3344"),
        ("rep_rut", "12.345.678-5"),
        ("rep_nombres", "Ana María"),
        ("rep_apellidos", "Rojas Díaz"),
        ("rep_email", "ana.rojas@capsur.cl"),
        ("celular", "11112222"),
        ("cus", CUS),
        ("cus_repetida", CUS),
        ("action", "registrar"),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_owned()))
    .collect()
}

/// Registers the company `RUT` with `CUS` through its registration form.
pub async fn register_company(app: &TestApp) {
    let browser = app.browser();
    let form = open_form(app, &browser, "/juridica/registro").await;
    let (status, page) = post(app, &browser, "/juridica/registro", &company(&form)).await;
    assert_eq!(status, 200, "{page}");
}
