//! Sans-I/O SMTP server core.
