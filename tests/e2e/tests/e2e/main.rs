//! One test binary, a module per concern.

mod acme;
mod bad_input;
mod caldav;
mod caldav_load;
mod imap;
mod imip;
mod limits;
mod mail_auth;
mod nodes;
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
mod web_calendar;
mod web_compose;
mod web_folders;
mod web_mail;
mod web_sort;
