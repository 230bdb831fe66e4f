mod audit;
mod auth;
mod bulk;
mod bulk_cases;
mod cases;
mod persons;
mod workflow;
