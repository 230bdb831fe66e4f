mod access;
mod api;
mod auth;
mod ops;
mod registry;
mod services;
