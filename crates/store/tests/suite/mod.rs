mod audit;
mod auth;
mod bulk;
mod cases;
mod catalog;
mod outbox;
mod persons;
mod workflow;
