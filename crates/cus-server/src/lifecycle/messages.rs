//! The e-mails and SMS CUS sends, in Spanish. Plain text; delivery adds an HTML
//! alternative. A CUS the person chose is never sent; a generated one waits in the outbox
//! sealed.

use cus_core::notification::{Channel, Notification};
use time::OffsetDateTime;
use time::macros::format_description;
use uuid::Uuid;

use crate::secrets::MessageKey;

const SIGNATURE: &str = "\n\n--\nClave Única SENCE (CUS)\nServicio Nacional de Capacitación y Empleo\n\
Huérfanos 1273 Piso 11, Santiago. Teléfono (56-2) 2870 61 00.\n\
Si usted no hizo esta solicitud, avísenos de inmediato al (56-2) 2870 61 00 o respondiendo este correo.";

fn email(to: &str, subject: &str, body: String, now: OffsetDateTime) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        channel: Channel::Email,
        recipient: to.to_owned(),
        subject: subject.to_owned(),
        body: format!("{body}{SIGNATURE}"),
        sealed: false,
        created_at: now,
    }
}

fn sms(to: &str, body: String, now: OffsetDateTime) -> Notification {
    Notification {
        id: Uuid::now_v7(),
        channel: Channel::Sms,
        recipient: to.to_owned(),
        subject: String::new(),
        body,
        sealed: false,
        created_at: now,
    }
}

/// Chile's local time is what people read; the zone offset makes it unambiguous.
fn when(now: OffsetDateTime) -> String {
    let format = format_description!(
        "[day]-[month]-[year] a las [hour]:[minute] (UTC[offset_hour sign:mandatory])"
    );
    now.format(&format).unwrap_or_else(|_| now.to_string())
}

pub fn registered(to: &str, name: &str, verify_link: &str, now: OffsetDateTime) -> Notification {
    email(
        to,
        "Su Clave Única SENCE fue creada",
        format!(
            "Hola {name}:\n\nSu cuenta de Clave Única SENCE (CUS) fue creada el {}. Ya puede ingresar a los \
             portales de SENCE con su RUT y la CUS que eligió.\n\nConfirme que este correo es suyo abriendo \
             este enlace (vence en 7 días):\n{verify_link}",
            when(now)
        ),
        now,
    )
}

pub fn registered_sms(to: &str, now: OffsetDateTime) -> Notification {
    sms(
        to,
        "SENCE: su Clave Unica SENCE (CUS) fue creada. Si no fue usted, llame al 222870 6100."
            .to_owned(),
        now,
    )
}

/// Seals a message that carries a secret: the outbox keeps it only sealed.
fn sealed(mut n: Notification, key: &MessageKey) -> anyhow::Result<Notification> {
    n.body = key.seal(&n.body)?;
    n.sealed = true;
    Ok(n)
}

/// The e-mail with a generated CUS (sealed).
pub fn generated(
    to: &str,
    name: &str,
    cus: &str,
    days: i64,
    now: OffsetDateTime,
    key: &MessageKey,
) -> anyhow::Result<Notification> {
    let n = email(
        to,
        "Su nueva Clave Única SENCE",
        format!(
            "Hola {name}:\n\nEl {} se solicitó una nueva Clave Única SENCE (CUS) para su RUT.\n\n\
             Su nueva CUS es: {cus}\n\nVence en {days} días. Al ingresar con ella se le pedirá \
             elegir una CUS propia. Si en cambio ingresa con su CUS anterior, la nueva queda sin \
             efecto. Si usted no la pidió, llame al (56-2) 2870 61 00.",
            when(now)
        ),
        now,
    );
    sealed(n, key)
}

/// The SMS with a generated CUS (sealed).
pub fn generated_sms(
    to: &str,
    cus: &str,
    now: OffsetDateTime,
    key: &MessageKey,
) -> anyhow::Result<Notification> {
    let n = sms(
        to,
        format!(
            "SENCE: su nueva Clave Unica SENCE es {cus} . Si no la pidio, llame al 222870 6100."
        ),
        now,
    );
    sealed(n, key)
}

pub fn cus_changed(to: &str, name: &str, now: OffsetDateTime) -> Notification {
    email(
        to,
        "Su Clave Única SENCE fue cambiada",
        format!(
            "Hola {name}:\n\nSu Clave Única SENCE (CUS) fue cambiada el {}. Por seguridad cerramos sus \
             sesiones abiertas en los portales de SENCE.",
            when(now)
        ),
        now,
    )
}

pub fn data_updated(to: &str, name: &str, now: OffsetDateTime) -> Notification {
    email(
        to,
        "Sus datos de Clave Única SENCE fueron actualizados",
        format!(
            "Hola {name}:\n\nSus datos de contacto de Clave Única SENCE fueron actualizados el {}.",
            when(now)
        ),
        now,
    )
}

pub fn email_changed(old: &str, new_masked: &str, name: &str, now: OffsetDateTime) -> Notification {
    email(
        old,
        "Su correo de Clave Única SENCE fue cambiado",
        format!(
            "Hola {name}:\n\nEl {} el correo de su Clave Única SENCE fue cambiado a {new_masked}. \
             Este es el último mensaje que enviaremos a esta dirección.",
            when(now)
        ),
        now,
    )
}

pub fn verify_new_email(
    to: &str,
    name: &str,
    verify_link: &str,
    now: OffsetDateTime,
) -> Notification {
    email(
        to,
        "Confirme su correo de Clave Única SENCE",
        format!(
            "Hola {name}:\n\nConfirme que este correo es suyo abriendo este enlace (vence en 7 días):\n{verify_link}"
        ),
        now,
    )
}

pub fn registered_as_representative(
    to: &str,
    name: &str,
    company: &str,
    now: OffsetDateTime,
) -> Notification {
    email(
        to,
        "Usted fue registrado como representante legal en Clave Única SENCE",
        format!(
            "Hola {name}:\n\nEl {} se creó la Clave Única SENCE (CUS) de {company}, con usted como \
             representante legal. Las nuevas CUS de la empresa llegarán a su celular.",
            when(now)
        ),
        now,
    )
}

/// To the company and to its new legal representative, when the help desk names one.
pub fn representative_named(
    to: &str,
    representative: &str,
    company: &str,
    now: OffsetDateTime,
) -> Notification {
    email(
        to,
        "Cambio de representante legal en Clave Única SENCE",
        format!(
            "Hola:\n\nEl {}, la mesa de ayuda de SENCE registró a {representative} como \
             representante legal de {company} en Clave Única SENCE. Desde ahora las nuevas CUS \
             de la empresa llegarán a su celular.",
            when(now)
        ),
        now,
    )
}

pub fn login_locked(to: &str, name: &str, minutes: u64, now: OffsetDateTime) -> Notification {
    email(
        to,
        "Bloqueamos el ingreso con su Clave Única SENCE",
        format!(
            "Hola {name}:\n\nEl {} hubo demasiados intentos fallidos de ingresar con su RUT. Por \
             seguridad bloqueamos el ingreso por {minutes} minutos. Si no fue usted, genere una nueva \
             CUS en https://autenticacion.sence.cl/natural/generar: eso también quita el bloqueo.",
            when(now)
        ),
        now,
    )
}
