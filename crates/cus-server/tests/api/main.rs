//! Integration tests: the production router over real TCP, against real backends.

mod admin_api;
mod audit_cli;
mod backchannel;
mod citizen_web;
mod cli;
mod database_creation;
mod delivery;
mod foundation;
mod helpers;
mod juridica;
mod keys;
mod lifecycle;
mod login_pages;
mod my_sessions;
mod oidc_errors;
mod oidc_flow;
mod operations;
mod personal_data;
mod private_key_jwt;
mod review_a;
mod review_accounts;
mod review_b;
mod security;
mod upgrade;
