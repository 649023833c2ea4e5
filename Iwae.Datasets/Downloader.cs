using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Iwae.Datasets;

/// <summary>Where a download stands: bytes of <see cref="File"/> on disk so far, of <see cref="Total"/>.</summary>
/// <param name="File">The file's name.</param>
/// <param name="Source">Where it comes from (upstream or the mirror).</param>
/// <param name="Done">Bytes on disk, counting any resumed part.</param>
/// <param name="Total">The file's size, when the record or the server gives it.</param>
/// <param name="ResumedFrom">Bytes that were already on disk from an earlier, interrupted download.</param>
public sealed record DownloadProgress(string File, Uri Source, long Done, long? Total, long ResumedFrom);

/// <summary>
/// A download that the server or the network refused or cut: an HTTP error status, a refused connection, a host
/// that does not resolve (offline), a timeout, a connection lost mid-file. The message is one line,
/// <c>url: what went wrong</c>. An <see cref="IOException"/>, so the command line maps it to exit code 2.
/// </summary>
public sealed class DownloadException : IOException
{
    /// <summary>The URL that failed, when there is one.</summary>
    public string? Url { get; }

    /// <summary>An exception with no message (for serializers and frameworks).</summary>
    public DownloadException() { }

    /// <summary>An exception with a one-line <paramref name="message"/>.</summary>
    public DownloadException(string message) : base(message) { }

    /// <summary>An exception with a one-line <paramref name="message"/> and its cause.</summary>
    public DownloadException(string message, Exception? innerException) : base(message, innerException) { }

    /// <summary>"<paramref name="url"/>: <paramref name="problem"/>", flattened to one line.</summary>
    public DownloadException(Uri url, string problem, Exception? innerException = null)
        : base($"{url}: {DataFormatException.OneLine(problem)}", innerException) => Url = url?.ToString();
}

/// <summary>
/// Downloads one file of a data set the way torchvision does, made resumable: the bytes go to
/// <c>&lt;folder&gt;/&lt;name&gt;.part</c>; a <c>.part</c> left by an interrupted run is continued with an HTTP range
/// request (a server that answers 200 instead of 206 sends the whole file, which then starts over); the finished
/// part is checked against the published size and checksum, then renamed to its name.
/// <para>What a failure leaves behind:</para>
/// <list type="bullet">
/// <item>Wrong size or checksum: nothing (the part is deleted), and a <see cref="DataFormatException"/> naming the
/// file, the expected and the actual value.</item>
/// <item>An HTTP status that says the file is not there (4xx, such as 404): nothing; a part from an earlier run is
/// deleted too, since it cannot be completed from there.</item>
/// <item>A connection cut or stalled mid-file, a server error (5xx, 408, 429), or Ctrl+C: the part, which the next run
/// resumes.</item>
/// <item>No connection at all (refused, host not found, timeout before the first byte): nothing new; no folder or
/// part is created until the server answers with the file.</item>
/// <item>A body longer than the published size (a server that sends no Content-Length and does not stop): reading
/// stops at the first read past it, and nothing is left, with a <see cref="DataFormatException"/> naming the file. A
/// file without a published size is capped at <see cref="MaxUnpublishedSize"/>.</item>
/// <item>Redirects are followed up to <see cref="MaxRedirects"/>, never from https to http; a loop, a longer chain or
/// a redirect without a target fails with a <see cref="DownloadException"/> saying which.</item>
/// </list>
/// Whenever a failure leaves nothing to resume, the folders this download created are removed too.
/// Timeouts: <see cref="DefaultConnectTimeout"/> to connect, <see cref="DefaultIdleTimeout"/> for the response
/// headers and between any two reads of the body; a slow but moving download is never cut.
/// </summary>
public sealed class Downloader : IDisposable
{
    /// <summary>Time allowed to open a connection.</summary>
    public static readonly TimeSpan DefaultConnectTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Time allowed for the response headers, and for each read of the body, before giving up.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The suffix of a file being downloaded.</summary>
    public const string PartSuffix = ".part";

    /// <summary>Redirects followed before giving up (browsers and curl allow 20 to 50; a data host needs one or two).</summary>
    public const int MaxRedirects = 10;

    /// <summary>
    /// Most bytes accepted for a file whose size is not published (only its checksum is), so that a server that never
    /// stops cannot fill the disk: several times the largest such file (Omniglot's chardata.mat).
    /// </summary>
    public const long MaxUnpublishedSize = 1_000_000_000;

    private const int BufferSize = 1 << 16;
    private readonly HttpClient _client;
    private readonly TimeSpan _idle;

    /// <summary>The cap on a file without a published size: <see cref="MaxUnpublishedSize"/>, smaller in tests.</summary>
    internal long UnpublishedSizeLimit { get; init; } = MaxUnpublishedSize;

    /// <summary>A downloader with the default timeouts.</summary>
    public Downloader() : this(DefaultConnectTimeout, DefaultIdleTimeout) { }

    /// <summary>A downloader with the given timeouts.</summary>
    /// <param name="connectTimeout">Time allowed to open a connection.</param>
    /// <param name="idleTimeout">Time allowed for the response headers and for each read of the body.</param>
    public Downloader(TimeSpan connectTimeout, TimeSpan idleTimeout)
    {
        _idle = idleTimeout;
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = connectTimeout,
            // .gz files must arrive as the bytes the checksum was taken of.
            AutomaticDecompression = DecompressionMethods.None,
            // raw.githubusercontent.com and S3 websites may redirect: followed by hand (SendAsync), so that a loop or
            // a refused redirect can be told apart from an error status.
            AllowAutoRedirect = false,
        };
        _client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        _client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("Iwae.NET", "1.0"));
    }

    /// <summary>Releases the connection pool.</summary>
    public void Dispose() => _client.Dispose();

    /// <summary>"sha256", "md5" or "git-blob-sha1".</summary>
    public static string AlgorithmName(ChecksumAlgorithm algorithm) => algorithm switch
    {
        ChecksumAlgorithm.Sha256 => "sha256",
        ChecksumAlgorithm.Md5 => "md5",
        ChecksumAlgorithm.GitBlobSha1 => "git-blob-sha1",
        _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
    };

    /// <summary>
    /// Where <paramref name="file"/> is downloaded from: its upstream <see cref="DataSetFile.Url"/>, or with a
    /// <paramref name="mirror"/>, <c>mirror + "/" + file name</c> (the same file names directly under the mirror).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="mirror"/> is not an absolute http(s) URL.</exception>
    public static Uri SourceOf(DataSetFile file, string? mirror)
    {
        ArgumentNullException.ThrowIfNull(file);
        if (mirror is null) return new Uri(file.Url);
        return new Uri(CheckMirror(mirror).ToString().TrimEnd('/') + "/" + Uri.EscapeDataString(file.Name));
    }

    /// <summary>The mirror as a URL.</summary>
    /// <exception cref="ArgumentException">Not an absolute http(s) URL.</exception>
    internal static Uri CheckMirror(string mirror)
        => Uri.TryCreate(mirror, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" && string.IsNullOrEmpty(uri.Query)
            ? uri
            : throw new ArgumentException($"mirror '{mirror}' is not an absolute http or https URL (each file is fetched from URL/<file name>)");

    /// <summary>
    /// Downloads <paramref name="file"/> into <paramref name="folder"/> (see the class summary for resuming, checking
    /// and what a failure leaves) and returns its path.
    /// </summary>
    /// <exception cref="DownloadException">The server or the network failed; the message names the URL.</exception>
    /// <exception cref="DataFormatException">The size or checksum is not the published one.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancel"/> fired; the part is kept.</exception>
    public string Download(DataSetFile file, string folder, string? mirror = null, Action<DownloadProgress>? progress = null,
                           CancellationToken cancel = default)
        => DownloadAsync(file, folder, mirror, progress, cancel).GetAwaiter().GetResult();

    /// <inheritdoc cref="Download"/>
    public async Task<string> DownloadAsync(DataSetFile file, string folder, string? mirror = null,
                                            Action<DownloadProgress>? progress = null, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentException.ThrowIfNullOrEmpty(folder);
        Uri source = SourceOf(file, mirror);
        string? created = TopmostMissing(folder);
        try
        {
            return await DownloadAsync(file, folder, source, progress, cancel).ConfigureAwait(false);
        }
        catch when (created is not null)
        {
            RemoveEmptyFolders(folder, created);
            throw;
        }
    }

    private async Task<string> DownloadAsync(DataSetFile file, string folder, Uri source, Action<DownloadProgress>? progress,
                                             CancellationToken cancel)
    {
        string final = Path.Combine(folder, file.Name);
        string part = final + PartSuffix;

        long offset = File.Exists(part) ? new FileInfo(part).Length : 0;
        if (file.Size is long expected && offset > expected) { Delete(part); offset = 0; }
        // A part of the full published size was finished by a run that stopped before checking it: just check it.
        bool complete = file.Size is long size && offset == size && size > 0;
        for (int attempt = 0; !complete; attempt++)
        {
            var outcome = await TryDownloadAsync(file, source, part, offset, progress, cancel).ConfigureAwait(false);
            if (outcome == Outcome.Done) break;
            // The server could not serve the rest (416, or a 206 from elsewhere): the part is gone; start over, once.
            if (attempt > 0) throw new DownloadException(source, "the server does not serve the file consistently (range requests fail twice)");
            offset = 0;
        }

        Verify(part, final, file, cancel);
        File.Move(part, final, overwrite: true);
        return final;
    }

    private enum Outcome { Done, StartOver }

    private async Task<Outcome> TryDownloadAsync(DataSetFile file, Uri source, string part, long offset,
                                                 Action<DownloadProgress>? progress, CancellationToken cancel)
    {
        using var response = await SendAsync(source, offset, cancel).ConfigureAwait(false);
        var status = response.StatusCode;
        if (offset > 0 && status == HttpStatusCode.RequestedRangeNotSatisfiable)
        {
            Delete(part);
            return Outcome.StartOver;
        }
        if (!response.IsSuccessStatusCode)
        {
            int code = (int)status;
            // 4xx says the file is not there to be had: a part of it can never be finished. 5xx, 408 and 429 are the
            // server's passing trouble: keep the part for the next run.
            if (code is >= 400 and < 500 and not 408 and not 429) Delete(part);
            string reason = string.IsNullOrWhiteSpace(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase;
            throw new DownloadException(source, $"HTTP {code}{reason}" + (File.Exists(part) ? "; run again to resume" : ""));
        }
        if (status == HttpStatusCode.PartialContent)
        {
            // Only a range that starts where our part ends can be appended.
            if (offset == 0 || response.Content.Headers.ContentRange is not { From: long from } || from != offset)
            {
                Delete(part);
                return Outcome.StartOver;
            }
        }
        else offset = 0; // 200: the whole file comes; the part starts over.

        long? length = response.Content.Headers.ContentLength;
        long? total = length is long n ? offset + n : file.Size;
        if (file.Size is long size && length is long announced && offset + announced != size)
        {
            Delete(part);
            throw DataFormatException.At(Path.Combine(Path.GetDirectoryName(part)!, file.Name),
                $"{source} sends {offset + announced} bytes, but the published size is {size}; not downloaded");
        }

        // A body without Content-Length ends when the server says so; one that goes on past the published size is not
        // this file, and is not read further.
        long limit = file.Size ?? UnpublishedSizeLimit;

        // Only now, with the file on its way, does anything appear on disk.
        string folder = Path.GetDirectoryName(part)!;
        CreateFolder(folder);
        await using var stream = await response.Content.ReadAsStreamAsync(cancel).ConfigureAwait(false);
        var buffer = new byte[BufferSize];
        long done = offset;
        bool tooLong = false;
        await using (var output = OpenPart(part, append: offset > 0))
        {
            progress?.Invoke(new DownloadProgress(file.Name, source, done, total, offset));
            using var idle = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            while (true)
            {
                int read;
                idle.CancelAfter(_idle);
                try
                {
                    read = await stream.ReadAsync(buffer, idle.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
                {
                    throw new DownloadException(source, $"no data for {_idle.TotalSeconds:0} s after {Bytes(done)}{Of(total)}; the part is kept, run again to resume");
                }
                catch (Exception e) when (e is IOException or HttpRequestException)
                {
                    throw new DownloadException(source, $"connection lost after {Bytes(done)}{Of(total)} ({Describe(e)}); the part is kept, run again to resume", e);
                }
                if (read == 0) break;
                if (done + read > limit)
                {
                    tooLong = true;
                    break;
                }
                // A failed write (disk full) is the disk's error, not the network's: it propagates as it is.
                await output.WriteAsync(buffer.AsMemory(0, read), cancel).ConfigureAwait(false);
                done += read;
                progress?.Invoke(new DownloadProgress(file.Name, source, done, total, offset));
            }
        }
        if (tooLong)
        {
            Delete(part);
            throw DataFormatException.At(Path.Combine(folder, file.Name), file.Size is long published
                ? $"{source} sends more than the published size of {published} bytes; stopped there, not downloaded"
                : $"{source} sends more than {Bytes(limit)}, the most accepted for a file without a published size; stopped there, not downloaded");
        }
        return Outcome.Done;
    }

    /// <summary>
    /// GET <paramref name="source"/> (from byte <paramref name="offset"/> on), following redirects by hand: at most
    /// <see cref="MaxRedirects"/>, never back to a URL already visited, never from https to http. Returns the first
    /// response that is not a redirect.
    /// </summary>
    private async Task<HttpResponseMessage> SendAsync(Uri source, long offset, CancellationToken cancel)
    {
        var visited = new List<Uri> { source };
        while (true)
        {
            var request = new HttpRequestMessage(HttpMethod.Get, visited[^1]);
            if (offset > 0) request.Headers.Range = new RangeHeaderValue(offset, null);
            var response = await SendAsync(request, source, cancel).ConfigureAwait(false);
            int code = (int)response.StatusCode;
            if (code is not (301 or 302 or 303 or 307 or 308)) return response;
            using (response)
            {
                string status = $"HTTP {code}{(string.IsNullOrWhiteSpace(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase)}";
                if (response.Headers.Location is not Uri location)
                    throw new DownloadException(source, $"{status} redirects without saying where to (no Location header)");
                var next = location.IsAbsoluteUri ? location : new Uri(visited[^1], location);
                if (next.Scheme is not ("http" or "https"))
                    throw new DownloadException(source, $"{status} redirects to {next}, not an http or https URL; not followed");
                if (visited[^1].Scheme == "https" && next.Scheme == "http")
                    throw new DownloadException(source, $"{status} redirects from https to http ({next}); not followed");
                if (visited.Contains(next))
                    throw new DownloadException(source, $"too many redirects: a loop ({string.Join(" -> ", visited.SkipWhile(u => u != next))} -> {next})");
                if (visited.Count > MaxRedirects)
                    throw new DownloadException(source, $"too many redirects: more than {MaxRedirects}, the last to {next}");
                visited.Add(next);
            }
        }
    }

    private async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, Uri source, CancellationToken cancel)
    {
        using var headers = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        headers.CancelAfter(_idle);
        try
        {
            return await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, headers.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancel.IsCancellationRequested)
        {
            // The connect timeout also ends here (as a TimeoutException inside).
            throw new DownloadException(source, e.InnerException is TimeoutException
                ? "timed out connecting (offline, or the host is unreachable)"
                : $"no response within {_idle.TotalSeconds:0} s", e);
        }
        catch (HttpRequestException e)
        {
            throw new DownloadException(source, Describe(e), e);
        }
    }

    /// <summary>A network failure in a few words: "connection refused", "host not found (offline?)".</summary>
    private static string Describe(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is SocketException s)
                return s.SocketErrorCode switch
                {
                    SocketError.ConnectionRefused => "connection refused (is the server up?)",
                    SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => "host not found (offline, or a wrong name?)",
                    SocketError.NetworkUnreachable or SocketError.HostUnreachable => "network unreachable (offline?)",
                    SocketError.ConnectionReset => "connection reset by the server",
                    SocketError.TimedOut => "timed out connecting",
                    _ => DataFormatException.OneLine(s.Message),
                };
        }
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError }) return "host not found (offline, or a wrong name?)";
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.ResponseEnded } or HttpIOException { HttpRequestError: HttpRequestError.ResponseEnded })
            return "the server closed the connection early";
        if (e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError }) return "TLS handshake failed: " + DataFormatException.OneLine(e.InnerException?.Message ?? e.Message);
        return DataFormatException.OneLine(e.InnerException is { } inner ? $"{e.Message} {inner.Message}" : e.Message);
    }

    /// <summary>
    /// Whether the file at <paramref name="path"/> is <paramref name="file"/>: its published size (where there is one)
    /// and checksum. False if it does not exist.
    /// </summary>
    public static bool Matches(string path, DataSetFile file, CancellationToken cancel = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var info = new FileInfo(path);
        if (!info.Exists || (file.Size is long size && info.Length != size)) return false;
        return ComputeChecksum(path, file.Algorithm, cancel) == file.Checksum;
    }

    // Checks a finished part; on a mismatch deletes it and names the file, the expected and the actual value.
    private static void Verify(string part, string final, DataSetFile file, CancellationToken cancel)
    {
        long length = new FileInfo(part).Length;
        if (file.Size is long size && length != size)
        {
            Delete(part);
            throw DataFormatException.At(final, $"size mismatch: expected {size} bytes, got {length}; the download was deleted");
        }
        string actual = ComputeChecksum(part, file.Algorithm, cancel);
        if (actual != file.Checksum)
        {
            Delete(part);
            throw DataFormatException.At(final,
                $"{AlgorithmName(file.Algorithm)} mismatch: expected {file.Checksum}, got {actual}; the download was deleted (checksum from {file.ChecksumSource})");
        }
    }

    /// <summary>The checksum of the file at <paramref name="path"/>, lower-case hex.</summary>
    public static string ComputeChecksum(string path, ChecksumAlgorithm algorithm, CancellationToken cancel = default)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, BufferSize);
        using var hash = IncrementalHash.CreateHash(algorithm switch
        {
            ChecksumAlgorithm.Sha256 => HashAlgorithmName.SHA256,
            ChecksumAlgorithm.Md5 => HashAlgorithmName.MD5,
            ChecksumAlgorithm.GitBlobSha1 => HashAlgorithmName.SHA1,
            _ => throw new ArgumentOutOfRangeException(nameof(algorithm)),
        });
        if (algorithm == ChecksumAlgorithm.GitBlobSha1)
            hash.AppendData(Encoding.ASCII.GetBytes(string.Create(CultureInfo.InvariantCulture, $"blob {stream.Length}\0")));
        var buffer = new byte[BufferSize];
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            cancel.ThrowIfCancellationRequested();
            hash.AppendData(buffer.AsSpan(0, read));
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // File.Delete throws when the folder is missing, which it is before the first byte ever arrived.
    private static void Delete(string path)
    {
        if (File.Exists(path)) File.Delete(path);
    }

    /// <summary>The outermost folder of <paramref name="folder"/> and its parents that does not exist yet, or null.</summary>
    internal static string? TopmostMissing(string folder)
    {
        string? missing = null;
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null && !dir.Exists; dir = dir.Parent)
            missing = dir.FullName;
        return missing;
    }

    /// <summary>
    /// Removes <paramref name="folder"/> and its parents up to <paramref name="topmost"/> while they are empty: what a
    /// download created and a failure left with nothing in it. A folder that holds anything (a part kept to resume) stays.
    /// </summary>
    internal static void RemoveEmptyFolders(string folder, string topmost)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            try
            {
                if (!dir.Exists || dir.EnumerateFileSystemInfos().Any()) return;
                dir.Delete();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return;     // the failure being reported matters more than a folder left behind
            }
            if (dir.FullName == topmost) return;
        }
    }

    /// <summary>Creates <paramref name="folder"/> (and its parents), or says in one line why it cannot be.</summary>
    /// <exception cref="IOException">Not possible: a file is in the way, or no permission.</exception>
    internal static void CreateFolder(string folder)
    {
        if (FileInTheWay(folder) is string file)
            throw new IOException($"{folder}: cannot create the folder: {file} is a file, not a folder");
        try
        {
            Directory.CreateDirectory(folder);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{folder}: cannot create the folder: permission denied", e);
        }
        catch (IOException e)
        {
            throw new IOException($"{folder}: cannot create the folder ({DataFormatException.OneLine(e.Message)})", e);
        }
    }

    /// <summary>The file that stands where <paramref name="folder"/> or one of its parents should be, or null.</summary>
    internal static string? FileInTheWay(string folder)
    {
        for (var dir = new DirectoryInfo(Path.GetFullPath(folder)); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(dir.FullName)) return dir.FullName;
            if (dir.Exists) return null;
        }
        return null;
    }

    private static FileStream OpenPart(string part, bool append)
    {
        try
        {
            return new FileStream(part, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.None, BufferSize);
        }
        catch (UnauthorizedAccessException e)
        {
            throw new IOException($"{part}: cannot write: permission denied", e);
        }
    }

    /// <summary>"9.9 MB", "28.9 kB", "512 B" (powers of 1000).</summary>
    public static string Bytes(long n) => n switch
    {
        < 1000 => string.Create(CultureInfo.InvariantCulture, $"{n} B"),
        < 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e3:F1} kB"),
        < 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:F1} MB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{n / 1e9:F2} GB"),
    };

    private static string Of(long? total) => total is long t ? $" of {Bytes(t)}" : "";
}
