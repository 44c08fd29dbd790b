//! Strongly connected components (Tarjan) and a readable cycle through each.

use std::collections::{BTreeSet, HashMap, VecDeque};

/// The strongly connected components of more than one node (each sorted), ordered by their
/// smallest node. Nodes are `0..adjacency.len()`; self-edges are not expected.
pub(super) fn components(adjacency: &[Vec<usize>]) -> Vec<Vec<usize>> {
    let n = adjacency.len();
    let mut tarjan = Tarjan {
        adjacency,
        index: vec![None; n],
        low: vec![0; n],
        stack: Vec::new(),
        on_stack: vec![false; n],
        next: 0,
        found: Vec::new(),
    };
    for node in 0..n {
        if tarjan.index[node].is_none() {
            tarjan.visit(node);
        }
    }
    let mut cycles: Vec<Vec<usize>> = tarjan
        .found
        .into_iter()
        .filter(|c| c.len() > 1)
        .map(|mut c| {
            c.sort_unstable();
            c
        })
        .collect();
    cycles.sort();
    cycles
}

struct Tarjan<'a> {
    adjacency: &'a [Vec<usize>],
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    stack: Vec<usize>,
    on_stack: Vec<bool>,
    next: usize,
    found: Vec<Vec<usize>>,
}

impl Tarjan<'_> {
    fn visit(&mut self, node: usize) {
        self.index[node] = Some(self.next);
        self.low[node] = self.next;
        self.next += 1;
        self.stack.push(node);
        self.on_stack[node] = true;
        let adjacency = self.adjacency;
        for &next in &adjacency[node] {
            match self.index[next] {
                None => {
                    self.visit(next);
                    self.low[node] = self.low[node].min(self.low[next]);
                }
                Some(index) if self.on_stack[next] => {
                    self.low[node] = self.low[node].min(index);
                }
                Some(_) => {}
            }
        }
        if self.index[node] == Some(self.low[node]) {
            let mut component = Vec::new();
            while let Some(member) = self.stack.pop() {
                self.on_stack[member] = false;
                component.push(member);
                if member == node {
                    break;
                }
            }
            self.found.push(component);
        }
    }
}

/// A closed walk through every node of a strongly connected `component`, starting and ending
/// at its smallest node: shortest hops to the nearest node not yet visited, then back.
pub(super) fn closed_walk(component: &[usize], adjacency: &[Vec<usize>]) -> Vec<usize> {
    let members: BTreeSet<usize> = component.iter().copied().collect();
    let Some(&start) = members.first() else {
        return Vec::new();
    };
    let mut left = members.clone();
    left.remove(&start);
    let mut walk = vec![start];
    let mut current = start;
    loop {
        let goals = if left.is_empty() {
            BTreeSet::from([start])
        } else {
            left.clone()
        };
        let Some(hops) = shortest_path(current, &goals, &members, adjacency) else {
            return walk;
        };
        for node in hops {
            left.remove(&node);
            walk.push(node);
            current = node;
        }
        if left.is_empty() && current == start {
            return walk;
        }
    }
}

/// The nodes after `from` on a shortest path, inside `members`, to any of `goals`.
fn shortest_path(
    from: usize,
    goals: &BTreeSet<usize>,
    members: &BTreeSet<usize>,
    adjacency: &[Vec<usize>],
) -> Option<Vec<usize>> {
    let mut previous = HashMap::new();
    let mut queue = VecDeque::from([from]);
    while let Some(node) = queue.pop_front() {
        for &next in &adjacency[node] {
            if !members.contains(&next) || next == from || previous.contains_key(&next) {
                continue;
            }
            previous.insert(next, node);
            if goals.contains(&next) {
                let mut hops = vec![next];
                let mut at = next;
                while let Some(&before) = previous.get(&at).filter(|b| **b != from) {
                    hops.push(before);
                    at = before;
                }
                hops.reverse();
                return Some(hops);
            }
            queue.push_back(next);
        }
    }
    None
}
