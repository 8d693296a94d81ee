//! Networking through WASI 0.2 (`wasi:sockets`) where none is granted: every attempt fails
//! with an error the program can handle, none of them is a crash.

use std::net::{TcpListener, TcpStream, ToSocketAddrs, UdpSocket};

fn kind<T>(r: std::io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("{:?}", e.kind()),
    }
}

fn main() {
    println!("connect: {}", kind(TcpStream::connect("127.0.0.1:80")));
    println!("listen: {}", kind(TcpListener::bind("127.0.0.1:0")));
    println!("udp: {}", kind(UdpSocket::bind("0.0.0.0:0")));
    println!("resolve: {}", kind("localhost:80".to_socket_addrs()));
}
