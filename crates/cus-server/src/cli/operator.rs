//! Who is at the `cus` command: every change a command makes is audited as theirs.

use anyhow::bail;

/// The longest operator name kept; longer ones are refused, not cut.
const MAX_LEN: usize = 64;

/// Who is at the command, as `--operator` gave it. Resolved only by a command that changes
/// something, so a read-only command works without `--operator` or `$USER`.
#[derive(Debug, Clone, Copy)]
pub struct Operator<'a> {
    pub given: Option<&'a str>,
}

impl Operator<'_> {
    /// The name recorded for a change: see [`resolve`].
    pub fn name(self) -> anyhow::Result<String> {
        resolve(self.given)
    }
}

/// The operator recorded for a CLI change, `cli:<name>`: the `--operator` given, or else
/// the OS user's login name (`$USER`, `$LOGNAME`).
fn resolve(given: Option<&str>) -> anyhow::Result<String> {
    let from_os = || {
        ["USER", "LOGNAME"]
            .into_iter()
            .find_map(|var| std::env::var(var).ok().filter(|v| !v.trim().is_empty()))
    };
    let Some(name) = given.map(str::to_owned).or_else(from_os) else {
        bail!("say who is acting with --operator NAME (no $USER or $LOGNAME to use instead)");
    };
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_LEN {
        bail!("--operator must have 1 to {MAX_LEN} characters");
    }
    if name.chars().any(|c| c.is_control() || c.is_whitespace()) {
        bail!("--operator must be one word, without spaces or control characters");
    }
    Ok(format!("cli:{name}"))
}

#[cfg(test)]
mod tests {
    use super::resolve;

    #[test]
    fn a_given_name_is_recorded_as_a_cli_operator() {
        assert_eq!(
            resolve(Some(" jperez ")).ok().as_deref(),
            Some("cli:jperez")
        );
    }

    #[test]
    fn names_that_would_muddle_the_trail_are_refused() {
        for bad in ["", "  ", "j perez", "a\u{7}b", &"x".repeat(65)] {
            assert!(resolve(Some(bad)).is_err(), "{bad:?} was accepted");
        }
    }
}
