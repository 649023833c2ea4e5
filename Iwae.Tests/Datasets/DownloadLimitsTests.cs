using Iwae.Datasets;

namespace Iwae.Tests.Datasets;

/// <summary>
/// What a download does with a server that misbehaves, against the real loopback server of <see cref="TestHttpServer"/>:
/// a body without Content-Length that never ends stops at the published size; a redirect loop or chain says so, naming
/// the URL; a refused download leaves no folder it created; a data directory that is a file is named as such.
/// </summary>
public class DownloadLimitsTests
{
    private TestHttpServer _server = null!;
    private string _dir = "";
    private static readonly byte[] Content = TestHttpServer.Bytes(100_003, seed: 11);

    [SetUp]
    public void Start()
    {
        _server = new TestHttpServer();
        _dir = Path.Combine(Path.GetTempPath(), "iwae-dl-limits-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [TearDown]
    public void Stop()
    {
        _server.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
        if (File.Exists(_dir)) File.Delete(_dir);
    }

    [Test]
    public void EndlessChunkedBody_StopsAtThePublishedSize_NamesTheFile_AndLeavesNothing()
    {
        string url = _server.ServeEndless("/files/a.bin");
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", url, Content));
        var reports = new List<DownloadProgress>();
        string dir = Path.Combine(_dir, "deeper");

        var e = Assert.Throws<DataFormatException>(() => DataSets.Fetch(set, dir, progress: reports.Add))!;

        Assert.That(e.Message, Is.EqualTo($"{Path.Combine(dir, "test-set", "a.bin")}: {url} sends more than the published size of {Content.Length} bytes; stopped there, not downloaded"));
        Assert.That(reports.Max(r => r.Done), Is.LessThanOrEqualTo(Content.Length), "nothing past the published size was written");
        Assert.That(_server.EndlessSent, Is.LessThan(_server.EndlessLimit), "the client stopped reading; the server did not run out");
        Assert.That(Directory.Exists(_dir), Is.False, "no part, and none of the folders it made");
    }

    [Test]
    public void EndlessBody_OfAFileWithoutAPublishedSize_StopsAtTheCap()
    {
        string url = _server.ServeEndless("/files/a.bin");
        var file = TestHttpServer.FileFor("a.bin", url, Content, withSize: false);
        using var downloader = new Downloader { UnpublishedSizeLimit = 300_000 };

        var e = Assert.Throws<DataFormatException>(() => downloader.Download(file, _dir))!;

        Assert.That(e.Message, Does.Contain($"{url} sends more than 300.0 kB, the most accepted for a file without a published size"));
        Assert.That(Directory.Exists(_dir), Is.False);
        Assert.That(Downloader.MaxUnpublishedSize, Is.EqualTo(1_000_000_000));
    }

    [Test]
    public void RedirectLoop_SaysTooManyRedirects_NamingTheUrls()
    {
        string a = _server.Redirect("/a.bin", "/b.bin");
        string b = _server.Redirect("/b.bin", _server.Url + "/a.bin");
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", a, Content));

        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;

        Assert.That(e.Message, Is.EqualTo($"{a}: too many redirects: a loop ({a} -> {b} -> {a})"));
        Assert.That(_server.Requests, Has.Count.EqualTo(2), "each URL asked once");
        Assert.That(Directory.Exists(_dir), Is.False);
    }

    [Test]
    public void RedirectChain_LongerThanTheLimit_SaysSo_AndAShortOneIsFollowed()
    {
        for (int i = 0; i <= Downloader.MaxRedirects; i++) _server.Redirect($"/r{i}", $"/r{i + 1}");
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", _server.Url + "/r0", Content));
        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;
        Assert.That(e.Message, Is.EqualTo($"{_server.Url}/r0: too many redirects: more than {Downloader.MaxRedirects}, the last to {_server.Url}/r{Downloader.MaxRedirects + 1}"));

        _server.Serve("/files/a.bin", Content);
        _server.Redirect("/moved/a.bin", "../files/a.bin");
        var moved = TestHttpServer.SetOf("moved", TestHttpServer.FileFor("a.bin", _server.Url + "/moved/a.bin", Content));
        Assert.That(DataSets.Fetch(moved, _dir).Single().Downloaded, Is.True);
        Assert.That(File.ReadAllBytes(Path.Combine(_dir, "moved", "a.bin")), Is.EqualTo(Content));
    }

    [Test]
    public void RedirectWithoutLocation_OrToAnotherScheme_IsNotFollowed()
    {
        string ftp = _server.Redirect("/ftp.bin", "ftp://example.org/a.bin");
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", ftp, Content));
        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;
        Assert.That(e.Message, Is.EqualTo($"{ftp}: HTTP 302 Found redirects to ftp://example.org/a.bin, not an http or https URL; not followed"));
    }

    [Test]
    public void ChecksumMismatch_InANewDataDirectory_LeavesNoFolderBehind()
    {
        _server.Serve("/files/a.bin", Content);
        var good = TestHttpServer.FileFor("a.bin", _server.Url + "/files/a.bin", Content);
        var set = TestHttpServer.SetOf("test-set", good with { Checksum = new string('0', 64) });
        string dir = Path.Combine(_dir, "x", "y");

        Assert.Throws<DataFormatException>(() => DataSets.Fetch(set, dir));

        Assert.That(Directory.Exists(_dir), Is.False, "neither x/y/test-set nor x/y nor x nor the folder above");
    }

    [Test]
    public void ACutDownload_KeepsItsPartAndFolder_ToResume()
    {
        _server.Serve("/files/a.bin", Content);
        _server.CutAfter = (_, _) => 1000;
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", _server.Url + "/files/a.bin", Content));

        Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir));

        Assert.That(new FileInfo(Path.Combine(_dir, "test-set", "a.bin.part")).Length, Is.EqualTo(1000));
    }

    [Test]
    public void ADataDirectoryThatIsAFile_IsNamed_BeforeAnyRequest()
    {
        _server.Serve("/files/a.bin", Content);
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", _server.Url + "/files/a.bin", Content));
        File.WriteAllText(_dir, "a file");

        var e = Assert.Throws<ArgumentException>(() => DataSets.Fetch(set, _dir))!;
        Assert.That(e.Message, Is.EqualTo($"data directory '{_dir}' is a file, not a folder"));
        e = Assert.Throws<ArgumentException>(() => DataSets.Fetch(set, Path.Combine(_dir, "sub")))!;
        Assert.That(e.Message, Is.EqualTo($"data directory '{Path.Combine(_dir, "sub")}' cannot be a folder: {_dir} is a file"));
        Assert.That(_server.Requests, Is.Empty);
    }
}
