//! Types that hold each other: neither can hand on its definition first.

/// A holds a B.
#[herald::data]
pub struct A {
    pub b: Option<Box<B>>,
}

/// B holds an A.
#[herald::data]
pub struct B {
    pub a: Option<Box<A>>,
}

fn main() {}
