using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Iwae.Datasets;

namespace Iwae.Tests;

/// <summary>
/// A small HTTP/1.1 server on the loopback address for the download tests: it serves byte arrays by path, answers
/// <c>Range: bytes=N-</c> with 206 (or 200 when <see cref="IgnoreRange"/>), 404 for anything else, records every
/// request, and can cut a response mid-body (<see cref="CutAfter"/>) to imitate a lost connection. One request per
/// connection (<c>Connection: close</c>), so each attempt of the client is one entry in <see cref="Requests"/>. It can also
/// answer a path with a redirect (<see cref="Redirect"/>) or with a chunked body that does not end
/// (<see cref="ServeEndless"/>), as a misbehaving mirror does.
/// </summary>
internal sealed class TestHttpServer : IDisposable
{
    /// <summary>A request as the server saw it.</summary>
    public sealed record Request(string Path, string? Range);

    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<string, byte[]> _files = new();
    private readonly ConcurrentDictionary<string, string> _redirects = new();
    private readonly ConcurrentDictionary<string, bool> _endless = new();
    private long _endlessSent;
    private readonly Task _loop;

    /// <summary>Every request, in arrival order.</summary>
    public ConcurrentQueue<Request> Requests { get; } = new();

    /// <summary>Given the request's number (0-based) and path, how many body bytes to send before closing; null: all.</summary>
    public Func<int, string, long?>? CutAfter { get; set; }

    /// <summary>Answer a range request with 200 and the whole file, as some servers do.</summary>
    public bool IgnoreRange { get; set; }

    public TestHttpServer()
    {
        _listener.Start();
        _loop = Task.Run(AcceptLoop);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>"http://127.0.0.1:PORT", no trailing slash.</summary>
    public string Url => $"http://127.0.0.1:{Port}";

    /// <summary>Serves <paramref name="bytes"/> at <paramref name="path"/> ("/a/b.bin"); returns its full URL.</summary>
    public string Serve(string path, byte[] bytes)
    {
        _files[path] = bytes;
        return Url + path;
    }

    /// <summary>Answers <paramref name="path"/> with 302 Found and <c>Location: <paramref name="location"/></c> (absolute or relative); returns its full URL.</summary>
    public string Redirect(string path, string location)
    {
        _redirects[path] = location;
        return Url + path;
    }

    /// <summary>
    /// Answers <paramref name="path"/> with 200 and a chunked body (no Content-Length) that goes on until the client
    /// stops reading or <see cref="EndlessLimit"/> bytes are sent (so a test of a client that never stops still ends).
    /// </summary>
    public string ServeEndless(string path)
    {
        _endless[path] = true;
        return Url + path;
    }

    /// <summary>Where an endless body gives up, if the client has not.</summary>
    public long EndlessLimit { get; set; } = 64L << 20;

    /// <summary>Bytes of endless bodies sent so far (all requests together).</summary>
    public long EndlessSent => Interlocked.Read(ref _endlessSent);

    /// <summary>A loopback port with nothing listening on it (bound, read and released).</summary>
    public static int DeadPort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Deterministic pseudo-random bytes.</summary>
    public static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>A file record for <paramref name="bytes"/> at <paramref name="url"/>, with its true sha256 and size.</summary>
    public static DataSetFile FileFor(string name, string url, byte[] bytes, bool withSize = true)
        => new(name, url, withSize ? bytes.Length : null, ChecksumAlgorithm.Sha256, Convert.ToHexStringLower(SHA256.HashData(bytes)), "computed by the test");

    /// <summary>A one-split test set of <paramref name="files"/>.</summary>
    public static DataSetDefinition SetOf(string name, params DataSetFile[] files)
        => new(name, "a set served by the test's own server", "test", "http://127.0.0.1/", files, [new DataSetSplit("train", [.. files.Select(f => f.Name)])]);

    private async Task AcceptLoop()
    {
        int count = 0;
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try { client = await _listener.AcceptTcpClientAsync(_stop.Token); }
            catch (Exception) { return; }
            int index = count++;
            _ = Task.Run(() => Handle(client, index));
        }
    }

    private async Task Handle(TcpClient client, int index)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                string head = await ReadHead(stream);
                var lines = head.Split("\r\n");
                string path = lines[0].Split(' ')[1];
                string? range = lines.Skip(1).Select(l => l.Split(':', 2)).Where(kv => kv.Length == 2 && kv[0].Trim().Equals("Range", StringComparison.OrdinalIgnoreCase))
                                     .Select(kv => kv[1].Trim()).FirstOrDefault();
                Requests.Enqueue(new Request(path, range));

                if (_redirects.TryGetValue(path, out var location))
                {
                    await Write(stream, $"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }
                if (_endless.ContainsKey(path))
                {
                    await Write(stream, "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
                    const int Chunk = 1 << 14;
                    byte[] chunk = [.. Encoding.ASCII.GetBytes($"{Chunk:x}\r\n"), .. new byte[Chunk], .. "\r\n"u8];
                    for (long sent = 0; sent < EndlessLimit; sent += Chunk)
                    {
                        await stream.WriteAsync(chunk);
                        Interlocked.Add(ref _endlessSent, Chunk);
                    }
                    await Write(stream, "0\r\n\r\n");
                    return;
                }
                if (!_files.TryGetValue(path, out var bytes))
                {
                    await Write(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                }
                long from = 0;
                string status = "200 OK", extra = "";
                if (range is not null && !IgnoreRange && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
                {
                    from = long.Parse(range[6..^1]);
                    if (from >= bytes.Length)
                    {
                        await Write(stream, $"HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */{bytes.Length}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                        return;
                    }
                    status = "206 Partial Content";
                    extra = $"Content-Range: bytes {from}-{bytes.Length - 1}/{bytes.Length}\r\n";
                }
                long length = bytes.Length - from;
                await Write(stream, $"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\nContent-Length: {length}\r\n{extra}Connection: close\r\n\r\n");
                long send = Math.Min(length, CutAfter?.Invoke(index, path) ?? length);
                await stream.WriteAsync(bytes.AsMemory((int)from, (int)send));
                await stream.FlushAsync();
                // Closing before Content-Length bytes is what a lost connection looks like to the client.
                client.Client.Shutdown(SocketShutdown.Send);
            }
            catch (Exception) when (_stop.IsCancellationRequested) { }
            catch (IOException) { } // the client went away
        }
    }

    private static async Task<string> ReadHead(NetworkStream stream)
    {
        var head = new List<byte>();
        var one = new byte[1];
        while (!(head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n'))
        {
            if (await stream.ReadAsync(one) == 0) throw new IOException("client closed before the end of the headers");
            head.Add(one[0]);
        }
        return Encoding.ASCII.GetString(head.ToArray());
    }

    private static Task Write(NetworkStream stream, string text) => stream.WriteAsync(Encoding.ASCII.GetBytes(text)).AsTask();

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        _stop.Dispose();
    }
}
