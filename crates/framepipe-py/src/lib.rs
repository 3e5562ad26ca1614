pub fn _z() {}
