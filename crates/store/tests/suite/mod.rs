mod audit;
mod auth;
mod bulk;
mod persons;
