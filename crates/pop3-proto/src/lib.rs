//! Sans-I/O POP3 server core.
