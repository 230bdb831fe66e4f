mod audit;
mod auth;
mod bulk;
mod cases;
mod outbox;
mod persons;
mod workflow;
