import socket

from engine.server.serve import listen


def test_listening_socket_is_tcp_so_asyncio_disables_nagle() -> None:
    """asyncio turns on TCP_NODELAY only for sockets whose proto is TCP; without it every
    response waited ~40 ms for a delayed ACK."""
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
