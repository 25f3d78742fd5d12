//! Linear: the GraphQL client (`client`) and its webhooks (`webhook`).

pub mod client;
pub mod webhook;

pub use client::{Linear, LinearSettings, PAGE_SIZE};
pub use webhook::LinearHttp;
