//! The senders hookguard knows, one module each: [`claimr`], [`chainvine`],
//! [`standard`] (Standard Webhooks) and [`hmac_sender`] (any HMAC-SHA256 sender, with
//! GitHub and Stripe presets). Each holds its provider type and default scheme, its
//! events and their parser, and (feature `testing`) its signer and samples.
//!
//! [`Builtin`] (feature `testing`) lists them for tools that take a provider by name,
//! such as the `hookguard` command.

pub mod chainvine;
pub mod claimr;
pub mod hmac_sender;
pub mod standard;

#[cfg(feature = "testing")]
mod builtin;

#[cfg(feature = "testing")]
pub use builtin::Builtin;
