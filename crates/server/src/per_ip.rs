//! Connections per client address, with a guard that gives the slot back.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open connections per IP address for one listener.
#[derive(Debug, Default, Clone)]
pub struct PerIp {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// Holds one connection slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl PerIp {
    /// Takes a slot if `ip` has fewer than `max` connections open. IPv6
    /// clients are counted by their /64, which one host usually holds whole.
    pub fn try_acquire(&self, ip: IpAddr, max: usize) -> Option<Slot> {
        let ip = postern_auth::throttle::network_of(ip);
        let mut open = lock(&self.open);
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            open: self.open.clone(),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = lock(&self.open);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// The map holds plain counters: a panic elsewhere cannot leave it
/// inconsistent, so a poisoned lock is still safe to use.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_counted_and_given_back() {
        let p = PerIp::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let a = p.try_acquire(ip, 2).unwrap();
        let _b = p.try_acquire(ip, 2).unwrap();
        assert!(p.try_acquire(ip, 2).is_none());
        assert!(p.try_acquire("192.0.2.2".parse().unwrap(), 2).is_some());
        let v6a = p.try_acquire("2001:db8::1".parse().unwrap(), 1);
        assert!(v6a.is_some());
        assert!(p
            .try_acquire("2001:db8::ffff:2".parse().unwrap(), 1)
            .is_none());
        drop(a);
        assert!(p.try_acquire(ip, 2).is_some());
    }
}
