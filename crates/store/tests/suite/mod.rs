mod audit;
mod auth;
mod bulk;
mod cases;
mod persons;
mod workflow;
