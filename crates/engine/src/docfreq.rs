//! Document frequencies over a sliding window of the most recent articles,
//! so that IDF follows the news of the moment: a word that every article of
//! this week uses ("ceasefire" during a war) stops counting as evidence.

use std::collections::{HashMap, VecDeque};

#[derive(Debug, Clone)]
pub struct DocFreq {
    window: usize,
    recent: VecDeque<Vec<u64>>,
    df: HashMap<u64, u32>,
}

impl DocFreq {
    pub fn new(window: usize) -> Self {
        DocFreq {
            window: window.max(1),
            recent: VecDeque::new(),
            df: HashMap::new(),
        }
    }

    /// Counts one document's distinct keys, forgetting the oldest document when full.
    pub fn add(&mut self, keys: Vec<u64>) {
        for k in &keys {
            *self.df.entry(*k).or_insert(0) += 1;
        }
        self.recent.push_back(keys);
        if self.recent.len() > self.window {
            if let Some(old) = self.recent.pop_front() {
                for k in old {
                    if let Some(n) = self.df.get_mut(&k) {
                        *n -= 1;
                        if *n == 0 {
                            self.df.remove(&k);
                        }
                    }
                }
            }
        }
    }

    /// Smoothed IDF: `ln((N + 1) / (df + 1)) + 1`, never below 1.
    pub fn idf(&self, key: u64) -> f32 {
        let n = self.recent.len() as f32;
        let df = self.df.get(&key).copied().unwrap_or(0) as f32;
        ((n + 1.0) / (df + 1.0)).ln() + 1.0
    }

    pub fn docs(&self) -> usize {
        self.recent.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_forgets() {
        let mut d = DocFreq::new(2);
        d.add(vec![1, 2]);
        d.add(vec![1]);
        assert!(d.idf(1) < d.idf(2));
        d.add(vec![3]);
        d.add(vec![3]);
        // 1 and 2 are out of the window now.
        assert_eq!(d.idf(1), d.idf(9));
        assert!(d.idf(3) < d.idf(1));
    }
}
