mod audit;
mod auth;
mod bulk;
mod cases;
mod persons;
mod portal;
mod workflow;
