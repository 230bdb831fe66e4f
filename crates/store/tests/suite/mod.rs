mod audit;
mod auth;
mod bulk;
mod cases;
mod catalog;
mod persons;
mod workflow;
