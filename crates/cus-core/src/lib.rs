//! CUS domain: who holds a CUS, the rules it must follow, and the OpenID Connect protocol
//! rules. Pure: no I/O, no clock, no randomness (they come in as arguments).

pub mod access_token;
pub mod account;
pub mod audit;
pub mod authorize;
pub mod claims;
pub mod client;
pub mod client_metadata;
pub mod contact;
pub mod contact_form;
pub mod forms;
pub mod notification;
pub mod oauth;
pub mod pkce;
pub mod policy;
pub mod rut;
pub mod territory;

pub use account::{
    Account, AccountId, Address, Credentials, NewAccount, Representante, TipoPersona,
};
pub use client::{Client, ClientId, ClientKind, GrantType, TokenAuthMethod};
pub use rut::{Rut, RutError};
pub use territory::Catalogue;
