//! `cus audit`: the audit trail newest first, a page at a time, as text for an operator or
//! as JSON lines for a SIEM.

use clap::Args;
use cus_core::audit::{AuditEvent, AuditKind};
use cus_store::{AuditFilter, AuditRecord};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::print_out;
use crate::config::Config;
use crate::startup;

/// Which events to print. Every condition given must hold.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Events of this RUT.
    #[arg(long, conflicts_with = "client")]
    rut: Option<String>,
    /// Events of this client id.
    #[arg(long)]
    client: Option<String>,
    /// From this day (YYYY-MM-DD, UTC) or instant (RFC 3339), inclusive.
    #[arg(long, value_parser = instant)]
    since: Option<OffsetDateTime>,
    /// Before this day (YYYY-MM-DD, UTC: that day excluded) or instant (RFC 3339).
    #[arg(long, value_parser = instant)]
    until: Option<OffsetDateTime>,
    /// Only events of this kind (repeat the flag for several), e.g. login_failed.
    #[arg(long = "kind", value_name = "KIND", value_parser = kind)]
    kinds: Vec<AuditKind>,
    /// The next page: events older than the one with this id (the last id printed).
    #[arg(long, value_name = "ID")]
    after: Option<i64>,
    /// How many events at most (the page size).
    #[arg(long, default_value_t = 1000)]
    limit: u32,
    /// One JSON object per line, with its id.
    #[arg(long)]
    json: bool,
}

/// Prints the page of the trail `args` selects, newest first.
pub async fn run(config: &Config, args: AuditArgs) -> anyhow::Result<()> {
    let subject = match (args.rut, args.client) {
        (Some(rut), _) => Some(
            cus_core::Rut::parse(&rut)
                .map_err(|e| anyhow::anyhow!("--rut: {e}"))?
                .compact(),
        ),
        (None, client) => client,
    };
    let store = startup::open_existing_store(config).await?;
    let page = store
        .audit_page(&AuditFilter {
            subject,
            since: args.since,
            until: args.until,
            kinds: args.kinds,
            before_id: args.after,
            limit: args.limit,
        })
        .await?;
    for record in page {
        print_out(&if args.json {
            json_line(&record).to_string()
        } else {
            text_line(&record)
        });
    }
    Ok(())
}

/// The line a SIEM reads: flat, the time in RFC 3339, absent values as `null`.
pub fn json_line(AuditRecord { id, event }: &AuditRecord) -> serde_json::Value {
    serde_json::json!({
        "id": id,
        "at": rfc3339(event.at),
        "kind": event.kind.as_str(),
        "outcome": event.outcome.as_str(),
        "subject": event.subject,
        "ip": event.ip,
        "user_agent": event.user_agent,
        "operator": event.operator,
        "detail": event.detail,
    })
}

fn text_line(AuditRecord { id, event }: &AuditRecord) -> String {
    let AuditEvent {
        at,
        kind,
        subject,
        ip,
        outcome,
        detail,
        operator,
        ..
    } = event;
    format!(
        "{id:>10}  {}  {kind:<22} {outcome:<8} {:<14} ip={} by={} {}",
        rfc3339(*at),
        subject.as_deref().unwrap_or_default(),
        ip.as_deref().unwrap_or("-"),
        operator.as_deref().unwrap_or("-"),
        detail.as_deref().unwrap_or_default()
    )
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// `--since` / `--until`: a day (its midnight, UTC) or an RFC 3339 instant.
fn instant(text: &str) -> Result<OffsetDateTime, String> {
    let day = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text, &day)
        .map(|date| date.midnight().assume_utc())
        .or_else(|_| OffsetDateTime::parse(text, &Rfc3339))
        .map_err(|_| {
            "must be a date like 2026-01-01 or an instant like 2026-01-01T12:00:00Z".into()
        })
}

/// `--kind`: one of the kinds CUS writes, listed when another is given.
fn kind(text: &str) -> Result<AuditKind, String> {
    AuditKind::parse(text).ok_or_else(|| {
        let known: Vec<&str> = AuditKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("not an audit kind; one of: {}", known.join(", "))
    })
}

#[cfg(test)]
mod tests {
    use super::{instant, kind};

    #[test]
    fn days_and_instants_are_read_and_nothing_else() {
        let day = instant("2026-01-02").expect("a day");
        assert_eq!(day.unix_timestamp(), 1_767_312_000);
        let at = instant("2026-01-02T03:04:05Z").expect("an instant");
        assert_eq!(at.unix_timestamp(), 1_767_312_000 + 3 * 3600 + 4 * 60 + 5);
        for bad in ["ayer", "2026-13-01", ""] {
            assert!(instant(bad).is_err(), "{bad:?} was read");
        }
    }

    #[test]
    fn only_kinds_cus_writes_are_filters() {
        assert!(kind("login_failed").is_ok());
        let refused = kind("login_hacked").expect_err("unknown");
        assert!(refused.contains("login_failed"), "{refused}");
    }
}
