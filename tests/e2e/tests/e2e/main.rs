//! One test binary, a module per concern.

mod bad_input;
mod caldav;
mod imap;
mod limits;
mod openssl;
mod pop3;
mod reload;
mod smtp;
mod smtp_queue;
mod starttls;
mod tls;
mod web;
mod web_account;
mod web_admin;
mod web_admin_certs;
mod web_admin_edit;
mod web_compose;
mod web_folders;
mod web_mail;
mod web_sort;
