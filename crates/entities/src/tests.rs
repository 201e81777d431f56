use super::*;

#[test]
fn debug_dump() {
    let g = gazetteer::global();
    println!("stats {:?}", gazetteer_stats());
    println!("malformed {:?}", g.malformed);
    for c in &g.conflicts {
        println!("conflict {c}");
    }
}
