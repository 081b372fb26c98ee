//! The outbox worker: delivers pending e-mails and SMS written by the flows, and logout
//! notices to relying parties. A message is marked sent only after its transport accepted
//! it; failures are retried with backoff; pending messages survive restarts (they live in
//! the store), and a lease keeps two nodes from sending the same one.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use cus_core::notification::{Channel, Notification};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::app::AppState;

/// Messages leased per round.
const BATCH: u32 = 50;
/// A node that crashes mid-delivery releases its messages after this.
const LEASE: Duration = Duration::from_secs(5 * 60);
/// The longest one delivery may take: every transport's own timeout is within it, and a
/// delivery is cut off at it. With `LEASE`, it makes "exactly once" hold (below).
const SEND_LIMIT: Duration = Duration::from_secs(15);
/// No delivery starts later than this after the lease was taken: it ends before the lease
/// does, with a minute to spare for clocks that disagree between nodes, so no other node
/// can lease a message while it is still being sent. What is left waits for its lease to
/// end and goes in a later round.
const LAST_START: Duration = Duration::from_secs(5 * 60 - 15 - 60);

enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

enum SmsSender {
    Files(PathBuf),
    Webhook { url: String, http: reqwest::Client },
}

pub struct Delivery {
    mailer: Mailer,
    sms: SmsSender,
    from: Mailbox,
    /// For back-channel logout: a relying party answers at once, and is not followed
    /// elsewhere. In production only addresses `policy` permits are reached (SSRF).
    relying_parties: reqwest::Client,
    /// The same, for development: any address (portals on the developer's machine).
    relying_parties_unchecked: reqwest::Client,
    policy: crate::outbound::Policy,
}

impl Delivery {
    pub fn from_config(config: &crate::config::Outbox) -> anyhow::Result<Self> {
        let smtp = config.smtp_url.expose_secret();
        let mailer = if smtp.is_empty() {
            Mailer::Files(config.dir.join("mail"))
        } else {
            Mailer::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(smtp)
                    .context("outbox.smtp_url")?
                    .timeout(Some(Duration::from_secs(10)))
                    .build(),
            )
        };
        let webhook = config.sms_webhook_url.expose_secret();
        let sms = if webhook.is_empty() {
            SmsSender::Files(config.dir.join("sms"))
        } else {
            SmsSender::Webhook {
                url: webhook.to_owned(),
                http: reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()?,
            }
        };
        let from = config
            .from
            .parse()
            .context("outbox.from is not a mailbox")?;
        let relying_party_client = || {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
        };
        let policy = crate::outbound::Policy::new(config.backchannel_allowed_networks.clone());
        Ok(Self {
            mailer,
            sms,
            from,
            relying_parties: policy.clone().http_client(relying_party_client())?,
            relying_parties_unchecked: relying_party_client().build()?,
            policy,
        })
    }

    async fn deliver(&self, app: &AppState, n: &Notification) -> anyhow::Result<()> {
        let opened;
        let n = if n.sealed {
            opened = Notification {
                body: app.message_key.open(&n.body)?,
                sealed: false,
                ..n.clone()
            };
            &opened
        } else {
            n
        };
        match n.channel {
            Channel::Email => self.send_mail(n).await,
            Channel::Sms => self.send_sms(n).await,
            Channel::Logout => self.send_logout(app, n).await,
        }
    }

    /// Back-Channel Logout 1.0 §2.5: POST `logout_token`; the portal answers 200 (or 204).
    /// A portal deleted, or without a logout URI any more, is owed nothing.
    async fn send_logout(&self, app: &AppState, n: &Notification) -> anyhow::Result<()> {
        let client = app
            .store
            .client(&cus_core::ClientId(n.recipient.clone()))
            .await?;
        let Some((client, uri)) = client.and_then(|c| {
            let uri = c.backchannel_logout_uri.clone()?;
            Some((c, uri))
        }) else {
            tracing::info!(notification.id = %n.id, "logout notice dropped: the client has no back-channel logout URI");
            return Ok(());
        };
        let http = if app.config.environment == crate::config::Environment::Production {
            // Names are checked by the client's resolver; an IP literal never reaches it.
            let parsed = url::Url::parse(&uri).context("backchannel_logout_uri")?;
            self.policy.check_literal(&parsed)?;
            &self.relying_parties
        } else {
            &self.relying_parties_unchecked
        };
        let token = crate::oidc::backchannel::logout_token(app, &client, &n.subject, &n.body)?;
        let status = http
            .post(&uri)
            .header(reqwest::header::CACHE_CONTROL, "no-store")
            .form(&[("logout_token", token)])
            .send()
            .await
            .map_err(|e| match crate::outbound::refused_in(&e) {
                Some(refused) => anyhow::Error::new(refused),
                None => http_error(e, &uri),
            })?
            .status();
        anyhow::ensure!(status.is_success(), "the relying party answered {status}");
        Ok(())
    }

    async fn send_mail(&self, n: &Notification) -> anyhow::Result<()> {
        let html = format!(
            "<!DOCTYPE html><html lang=\"es-CL\"><body><p>{}</p></body></html>",
            escape(&n.body)
                .replace("\n\n", "</p><p>")
                .replace('\n', "<br>")
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(n
                .recipient
                .parse()
                .context("recipient is not an e-mail address")?)
            .subject(&n.subject)
            .message_id(Some(format!("<{}@cus.sence.cl>", n.id)))
            .multipart(MultiPart::alternative_plain_html(n.body.clone(), html))?;
        match &self.mailer {
            Mailer::Smtp(transport) => {
                transport.send(message).await?;
            }
            Mailer::Files(dir) => {
                write_atomically(dir, &format!("{}.eml", n.id), &message.formatted()).await?
            }
        }
        Ok(())
    }

    async fn send_sms(&self, n: &Notification) -> anyhow::Result<()> {
        let payload = serde_json::json!({ "id": n.id, "to": n.recipient, "body": n.body, "created_at": n.created_at.unix_timestamp() });
        match &self.sms {
            SmsSender::Files(dir) => {
                write_atomically(
                    dir,
                    &format!("{}.json", n.id),
                    payload.to_string().as_bytes(),
                )
                .await
            }
            SmsSender::Webhook { url, http } => {
                http.post(url)
                    .json(&payload)
                    .send()
                    .await
                    .and_then(reqwest::Response::error_for_status)
                    .map_err(|e| http_error(e, url))?;
                Ok(())
            }
        }
    }
}

/// An HTTP failure that shows its URL only redacted: reqwest's own message carries the
/// whole URL, credentials in the query and user-info included.
fn http_error(error: reqwest::Error, url: &str) -> anyhow::Error {
    anyhow::Error::new(error.without_url())
        .context(format!("POST {}", crate::telemetry::redact_url(url)))
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Writes `name` in `dir` through a temporary file, so a reader never sees half a message.
async fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    tokio::fs::create_dir_all(dir)
        .await
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".{name}.tmp"));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, dir.join(name)).await?;
    Ok(())
}

/// Retry after 10 s, 20 s, 40 s… at most an hour.
fn backoff(attempts: i32) -> time::Duration {
    let exp = u32::try_from(attempts.clamp(0, 9)).unwrap_or(9);
    time::Duration::seconds((10_i64 * 2_i64.pow(exp)).min(3600))
}

/// One round: lease what is due, deliver it, record the outcome. Returns how many were sent.
pub async fn deliver_due(app: &AppState, delivery: &Delivery) -> anyhow::Result<usize> {
    let leased_at = std::time::Instant::now();
    let lease = time::Duration::try_from(LEASE)?;
    let due = app
        .store
        .claim_notifications(BATCH, app.clock.now(), lease)
        .await?;
    let mut sent = 0;
    let give_up = time::Duration::hours(
        i64::try_from(app.config.outbox.give_up_hours).unwrap_or(i64::MAX / 3600),
    );
    for stored in due {
        if leased_at.elapsed() > LAST_START {
            tracing::info!(
                "outbox lease running out: the rest of the batch waits for its lease to end"
            );
            break;
        }
        let n = &stored.notification;
        if app.clock.now() - n.created_at > give_up {
            let reason = format!(
                "abandoned after {} attempts: not delivered within {} hours",
                stored.attempts, app.config.outbox.give_up_hours
            );
            tracing::warn!(notification.id = %n.id, channel = n.channel.as_str(), "{reason}");
            app.store
                .mark_abandoned(n.id, app.clock.now(), &reason)
                .await?;
            counted(n.channel.as_str(), "abandoned");
            continue;
        }
        let delivered = tokio::time::timeout(SEND_LIMIT, delivery.deliver(app, n))
            .await
            .unwrap_or_else(|_| {
                Err(anyhow::anyhow!(
                    "no answer within {} s",
                    SEND_LIMIT.as_secs()
                ))
            });
        match delivered {
            Ok(()) => {
                app.store.mark_sent(n.id, app.clock.now()).await?;
                counted(n.channel.as_str(), "sent");
                sent += 1;
                tracing::info!(notification.id = %n.id, channel = n.channel.as_str(), "notification delivered");
            }
            Err(e) => {
                let retry = app.clock.now() + backoff(stored.attempts);
                // Every cause, each free of secrets (URLs are redacted where they are met).
                let reason = format!("{e:#}");
                tracing::warn!(notification.id = %n.id, channel = n.channel.as_str(), error = %reason, "delivery failed; will retry");
                app.store.mark_failed(n.id, &reason, retry).await?;
                counted(n.channel.as_str(), "retried");
            }
        }
    }
    Ok(sent)
}

fn counted(channel: &'static str, result: &'static str) {
    metrics::counter!(crate::metrics::OUTBOX, "channel" => channel, "result" => result)
        .increment(1);
}

/// Background task of `cus serve`, until `stop` says so. A round under way when it does is
/// finished (its leased messages sent and marked), so a restart sends nothing twice.
pub async fn run(app: AppState, delivery: Delivery, mut stop: tokio::sync::watch::Receiver<bool>) {
    // The first round waits one period, like every later one: a plain `interval` would
    // fire at once and race whoever starts the node (the tests run rounds themselves).
    let period = Duration::from_secs(app.config.outbox.poll_seconds.max(1));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if let Err(e) = deliver_due(&app, &delivery).await {
            tracing::warn!(error = %format!("{e:#}"), "outbox round failed");
        }
    }
}
