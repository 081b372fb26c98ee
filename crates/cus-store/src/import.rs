//! What `cus account import` hands the store: a batch of accounts brought over from the
//! previous system, and what became of them.

use cus_core::NewAccount;
use cus_core::audit::AuditEvent;

/// One batch of imported accounts, written in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct ImportBatch<'a> {
    pub accounts: &'a [NewAccount],
    /// Overwrite the contact data (names, e-mail, phones, address, representative) of the
    /// accounts whose RUT already exists; without it they are left exactly as they are.
    pub update: bool,
    /// The event written for each account created, with the account's RUT as subject.
    pub created: &'a AuditEvent,
    /// The event written for each existing account updated, with its RUT as subject.
    pub updated: &'a AuditEvent,
}

/// What a batch did: every account of the batch is counted once.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub created: u64,
    /// RUTs that already had an account, left as they were.
    pub existing: u64,
    /// RUTs that already had an account, whose contact data was overwritten (`update`).
    pub updated: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, other: Self) {
        self.created += other.created;
        self.existing += other.existing;
        self.updated += other.updated;
    }
}
