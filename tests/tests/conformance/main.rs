//! The conformance suites: one set of tests, written once, that every `Store` and every
//! `Presence` implementation must pass.

mod message_changes_conformance;
mod presence_conformance;
mod store_conformance;
mod store_upgrades;
