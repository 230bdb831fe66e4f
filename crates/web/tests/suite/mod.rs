mod access;
mod api;
mod applications;
mod auth;
mod ops;
mod registry;
mod review;
mod services;
