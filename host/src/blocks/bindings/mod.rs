//! The bindings building block: input bindings (events flow to the app, the app's reply flows
//! back) and output bindings (the app invokes operations). One component may implement both;
//! daprd then opens one connection per side, each with its own `Init`, so each side runs in
//! its own guest instance.

pub mod input;
pub mod output;
