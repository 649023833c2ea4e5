using System.Security.Cryptography;
using System.Text;
using Iwae.Datasets;

namespace Iwae.Tests.Datasets;

/// <summary>
/// Named data sets and their download, against a real HTTP server on the loopback address (<see cref="TestHttpServer"/>)
/// serving files the test makes, described by test sets with their own names and checksums: no test needs the
/// internet, and none depends on the real upstream.
/// </summary>
public class DownloadTests
{
    private TestHttpServer _server = null!;
    private string _dir = "";
    private static readonly byte[] Content = TestHttpServer.Bytes(300_001, seed: 7); // several reads, an odd size

    [SetUp]
    public void Start()
    {
        _server = new TestHttpServer();
        _dir = Path.Combine(Path.GetTempPath(), "iwae-dl-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [TearDown]
    public void Stop()
    {
        _server.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private DataSetDefinition ServedSet(string name = "test-set", byte[]? bytes = null, bool withSize = true)
    {
        bytes ??= Content;
        return TestHttpServer.SetOf(name, TestHttpServer.FileFor("a.bin", _server.Serve("/files/a.bin", bytes), bytes, withSize));
    }

    private string FolderOf(DataSetDefinition set) => Path.Combine(_dir, set.Name);

    [Test]
    public void Fetch_DownloadsVerifiesAndRenames_ThenKeepsTheVerifiedFile()
    {
        var set = ServedSet();
        var reports = new List<DownloadProgress>();
        Assert.That(DataSets.IsPresent(set, _dir), Is.False);

        var fetched = DataSets.Fetch(set, _dir, progress: reports.Add);

        string path = Path.Combine(FolderOf(set), "a.bin");
        Assert.That(fetched.Single().Path, Is.EqualTo(path));
        Assert.That(fetched.Single().Downloaded, Is.True);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(Content));
        Assert.That(File.Exists(path + ".part"), Is.False);
        Assert.That(DataSets.IsPresent(set, _dir), Is.True);
        Assert.That(reports[0].Done, Is.Zero);
        Assert.That(reports[^1], Is.EqualTo(new DownloadProgress("a.bin", new Uri(_server.Url + "/files/a.bin"), Content.Length, Content.Length, 0)));

        var again = DataSets.Fetch(set, _dir);
        Assert.That(again.Single().Downloaded, Is.False, "a verified file is not downloaded again");
        Assert.That(_server.Requests, Has.Count.EqualTo(1));
    }

    [Test]
    public void Fetch_ConnectionCutMidFile_KeepsThePart_AndTheNextRunResumesWithARangeRequest()
    {
        int half = Content.Length / 2;
        _server.CutAfter = (i, _) => i == 0 ? half : null;
        var set = ServedSet();
        string part = Path.Combine(FolderOf(set), "a.bin.part");

        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;
        Assert.That(e.Message, Does.StartWith(_server.Url + "/files/a.bin: connection lost after"));
        Assert.That(e.Message, Does.Contain("run again to resume"));
        Assert.That(e.Message, Does.Not.Contain('\n'));
        Assert.That(File.ReadAllBytes(part), Is.EqualTo(Content[..half]), "the bytes that arrived are kept");

        var reports = new List<DownloadProgress>();
        var fetched = DataSets.Fetch(set, _dir, progress: reports.Add);

        var requests = _server.Requests.ToArray();
        Assert.That(requests, Has.Length.EqualTo(2));
        Assert.That(requests[0].Range, Is.Null);
        Assert.That(requests[1].Range, Is.EqualTo($"bytes={half}-"));
        Assert.That(reports[0].ResumedFrom, Is.EqualTo(half));
        Assert.That(fetched.Single().Downloaded, Is.True);
        Assert.That(File.ReadAllBytes(fetched.Single().Path), Is.EqualTo(Content));
        Assert.That(File.Exists(part), Is.False);
    }

    [Test]
    public void Fetch_ServerAnswers200ToARange_StartsOver()
    {
        _server.IgnoreRange = true;
        var set = ServedSet();
        Directory.CreateDirectory(FolderOf(set));
        string part = Path.Combine(FolderOf(set), "a.bin.part");
        File.WriteAllBytes(part, new byte[1000]); // not even the right bytes: appending would fail the checksum

        DataSets.Fetch(set, _dir);

        Assert.That(_server.Requests.Single().Range, Is.EqualTo("bytes=1000-"));
        Assert.That(File.ReadAllBytes(Path.Combine(FolderOf(set), "a.bin")), Is.EqualTo(Content));
        Assert.That(File.Exists(part), Is.False);
    }

    [Test]
    public void Fetch_PartAlreadyComplete_IsVerifiedWithoutARequest()
    {
        var set = ServedSet();
        Directory.CreateDirectory(FolderOf(set));
        File.WriteAllBytes(Path.Combine(FolderOf(set), "a.bin.part"), Content);

        DataSets.Fetch(set, _dir);

        Assert.That(_server.Requests, Is.Empty);
        Assert.That(File.ReadAllBytes(Path.Combine(FolderOf(set), "a.bin")), Is.EqualTo(Content));
    }

    [Test]
    public void Fetch_PartOfUnknownSizeAlreadyComplete_Gets416_AndStartsOver()
    {
        var set = ServedSet(withSize: false);
        Directory.CreateDirectory(FolderOf(set));
        File.WriteAllBytes(Path.Combine(FolderOf(set), "a.bin.part"), Content);

        DataSets.Fetch(set, _dir);

        Assert.That(_server.Requests.Select(r => r.Range), Is.EqualTo(new[] { $"bytes={Content.Length}-", null }));
        Assert.That(File.ReadAllBytes(Path.Combine(FolderOf(set), "a.bin")), Is.EqualTo(Content));
    }

    [Test]
    public void Fetch_ChecksumMismatch_NamesFileExpectedAndActual_AndLeavesNothing()
    {
        string wrong = new('0', 64);
        var good = ServedSet();
        var set = good with { Files = [good.Files[0] with { Checksum = wrong }] };

        var e = Assert.Throws<DataFormatException>(() => DataSets.Fetch(set, _dir))!;

        string actual = Convert.ToHexStringLower(SHA256.HashData(Content));
        Assert.That(e.Message, Does.Contain(Path.Combine(FolderOf(set), "a.bin")));
        Assert.That(e.Message, Does.Contain($"sha256 mismatch: expected {wrong}, got {actual}"));
        Assert.That(e.Message, Does.Not.Contain('\n'));
        Assert.That(Directory.Exists(_dir), Is.False, "no .part, no final file, no folder it created");
    }

    [Test]
    public void Fetch_SizeMismatch_NamesBothSizes_AndLeavesNothing()
    {
        var good = ServedSet();
        var set = good with { Files = [good.Files[0] with { Size = Content.Length + 1 }] };

        var e = Assert.Throws<DataFormatException>(() => DataSets.Fetch(set, _dir))!;

        Assert.That(e.Message, Does.Contain($"sends {Content.Length} bytes, but the published size is {Content.Length + 1}"));
        Assert.That(Directory.Exists(_dir), Is.False);
    }

    [Test]
    public void Fetch_WrongFileAlreadyThere_IsReplaced()
    {
        var set = ServedSet();
        Directory.CreateDirectory(FolderOf(set));
        string path = Path.Combine(FolderOf(set), "a.bin");
        File.WriteAllBytes(path, TestHttpServer.Bytes(Content.Length, seed: 8));

        Assert.That(DataSets.Fetch(set, _dir).Single().Downloaded, Is.True);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(Content));
    }

    [Test]
    public void Fetch_404_IsOneLineNamingTheUrl_AndLeavesNothing()
    {
        string url = _server.Url + "/files/missing.bin";
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("missing.bin", url, Content));

        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;

        Assert.That(e.Message, Is.EqualTo($"{url}: HTTP 404 Not Found"));
        Assert.That(e, Is.InstanceOf<IOException>(), "the CLI maps IOException to exit 2");
        Assert.That(Directory.Exists(FolderOf(set)), Is.False, "not even the folder");
    }

    [Test]
    public void Fetch_404_DeletesAPartFromAnEarlierRun()
    {
        string url = _server.Url + "/files/missing.bin";
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("missing.bin", url, Content));
        Directory.CreateDirectory(FolderOf(set));
        File.WriteAllBytes(Path.Combine(FolderOf(set), "missing.bin.part"), new byte[10]);

        Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir));

        Assert.That(_server.Requests.Single().Range, Is.EqualTo("bytes=10-"));
        Assert.That(Directory.GetFiles(FolderOf(set)), Is.Empty);
    }

    [Test]
    public void Fetch_ServerDown_IsOneLineSayingConnectionRefused()
    {
        string url = $"http://127.0.0.1:{TestHttpServer.DeadPort()}/files/a.bin";
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", url, Content));

        var e = Assert.Throws<DownloadException>(() => DataSets.Fetch(set, _dir))!;

        Assert.That(e.Message, Is.EqualTo($"{url}: connection refused (is the server up?)"));
        Assert.That(e.Url, Is.EqualTo(url));
        Assert.That(Directory.Exists(FolderOf(set)), Is.False);
    }

    [Test]
    public void Fetch_Mirror_ReplacesTheUpstreamFolder()
    {
        string upstream = $"http://127.0.0.1:{TestHttpServer.DeadPort()}/upstream/a.bin";
        _server.Serve("/mirror/a.bin", Content);
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", upstream, Content));

        var reports = new List<DownloadProgress>();
        DataSets.Fetch(set, _dir, mirror: _server.Url + "/mirror/", progress: reports.Add);

        Assert.That(_server.Requests.Single().Path, Is.EqualTo("/mirror/a.bin"));
        Assert.That(reports[0].Source, Is.EqualTo(new Uri(_server.Url + "/mirror/a.bin")));
        Assert.That(File.ReadAllBytes(Path.Combine(FolderOf(set), "a.bin")), Is.EqualTo(Content));
    }

    [TestCase("https://example.org/m", "https://example.org/m/a.bin")]
    [TestCase("https://example.org/m/", "https://example.org/m/a.bin")]
    [TestCase("http://10.0.0.1:8080", "http://10.0.0.1:8080/a.bin")]
    public void SourceOf_Mirror_IsUrlSlashFileName(string mirror, string expected)
    {
        var file = TestHttpServer.FileFor("a.bin", "https://upstream.example/data/a.bin", Content);
        Assert.That(Downloader.SourceOf(file, mirror).ToString(), Is.EqualTo(expected));
        Assert.That(Downloader.SourceOf(file, null).ToString(), Is.EqualTo("https://upstream.example/data/a.bin"));
    }

    [TestCase("ftp://example.org/m")]
    [TestCase("example.org/m")]
    [TestCase("/local/folder")]
    public void Fetch_BadMirror_IsAnArgumentError_BeforeAnyRequest(string mirror)
    {
        var set = ServedSet();
        Assert.Throws<ArgumentException>(() => DataSets.Fetch(set, _dir, mirror));
        Assert.That(_server.Requests, Is.Empty);
    }

    [Test]
    public void Fetch_CancelledMidFile_KeepsThePart()
    {
        var set = ServedSet();
        using var cancel = new CancellationTokenSource();
        Assert.That(() => DataSets.Fetch(set, _dir, progress: p => { if (p.Done > 0) cancel.Cancel(); }, cancel: cancel.Token),
                    Throws.InstanceOf<OperationCanceledException>());
        long part = new FileInfo(Path.Combine(FolderOf(set), "a.bin.part")).Length;
        Assert.That(part, Is.GreaterThan(0).And.LessThan(Content.Length));
    }

    [Test]
    public void ComputeChecksum_GitBlobSha1_IsGitsBlobId()
    {
        // `printf hello | git hash-object --stdin` and the empty blob's id, as git computes them.
        Directory.CreateDirectory(_dir);
        string path = Path.Combine(_dir, "hello");
        File.WriteAllBytes(path, Encoding.ASCII.GetBytes("hello"));
        Assert.That(Downloader.ComputeChecksum(path, ChecksumAlgorithm.GitBlobSha1), Is.EqualTo("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0"));
        File.WriteAllBytes(path, []);
        Assert.That(Downloader.ComputeChecksum(path, ChecksumAlgorithm.GitBlobSha1), Is.EqualTo("e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"));
        Assert.That(Downloader.ComputeChecksum(path, ChecksumAlgorithm.Md5), Is.EqualTo("d41d8cd98f00b204e9800998ecf8427e"));
    }

    [Test]
    public void Builtin_SetsAreValid_WithTheirSplitsAndSources()
    {
        Assert.That(DataSets.Builtin.Select(s => s.Name), Is.EqualTo(new[] { "mnist", "fashion-mnist", "omniglot", "binarized-mnist" }));
        foreach (var set in DataSets.Builtin)
        {
            Assert.DoesNotThrow(() => set.Validate(), set.Name);
            Assert.That(set.Split("train").Files, Is.Not.Empty, set.Name);
            Assert.That(set.Split("test").Files, Is.Not.Empty, set.Name);
            foreach (var f in set.Files)
            {
                Assert.That(f.ChecksumSource, Is.Not.Empty, f.Name);
                Assert.That(f.Url, Does.EndWith("/" + f.Name), "a mirror serves the same names");
            }
        }
        Assert.That(DataSets.Get("MNIST").Name, Is.EqualTo("mnist"));
        Assert.That(() => DataSets.Get("cifar"), Throws.ArgumentException.With.Message.Contains("known: mnist, fashion-mnist, omniglot, binarized-mnist"));
    }

    [Test]
    public void Validate_RejectsNamesThatAreNotPlainFileNames()
    {
        var set = ServedSet();
        foreach (string bad in new[] { "../x", "a/b", "..", "", "x.part" })
            Assert.That(() => (set with { Files = [set.Files[0] with { Name = bad }] }).Validate(), Throws.ArgumentException, bad);
        Assert.That(() => (set with { Name = "../up" }).Validate(), Throws.ArgumentException);
        Assert.That(() => (set with { Files = [set.Files[0] with { Checksum = "ABC" }] }).Validate(), Throws.ArgumentException);
    }

    [Test]
    public void Register_MakesATestSetKnown_UntilDisposed()
    {
        var set = ServedSet("registered-set");
        using (DataSets.Register(set))
        {
            Assert.That(DataSets.Get("registered-set"), Is.SameAs(set));
            Assert.That(DataSets.Known.Select(s => s.Name), Does.Contain("registered-set").And.Contain("mnist"));
        }
        Assert.That(DataSets.TryGet("registered-set", out _), Is.False);
    }

    [Test]
    public void PathsAndRequire_NameTheSetsFiles_AndSayHowToFetch()
    {
        var set = ServedSet("registered-set");
        using var _ = DataSets.Register(set);
        string folder = Path.GetFullPath(Path.Combine(_dir, "registered-set"));
        Assert.That(DataSets.Paths("registered-set", _dir), Is.EqualTo(new[] { Path.Combine(folder, "a.bin") }));
        Assert.That(DataSets.SplitPaths("registered-set", "train", _dir), Is.EqualTo(new[] { Path.Combine(folder, "a.bin") }));
        Assert.That(() => DataSets.SplitPaths("registered-set", "valid", _dir), Throws.ArgumentException);
        Assert.That(() => DataSets.Require("registered-set", _dir),
                    Throws.TypeOf<DataFormatException>().With.Message.Contains("iwae data fetch registered-set"));

        DataSets.Fetch("registered-set", _dir);

        Assert.That(DataSets.Require("registered-set", _dir), Is.EqualTo(folder));
        Assert.That(DataSets.IsPresent("registered-set", _dir), Is.True);
    }

    [Test]
    public void BuiltinPaths_AreTheUpstreamNamesInDirSlashName()
    {
        string dir = Path.GetFullPath("/data");
        Assert.That(DataSets.SplitPaths("mnist", "test", dir),
                    Is.EqualTo(new[] { Path.Combine(dir, "mnist", "t10k-images-idx3-ubyte.gz"), Path.Combine(dir, "mnist", "t10k-labels-idx1-ubyte.gz") }));
        Assert.That(DataSets.SplitPaths("omniglot", "train", dir), Is.EqualTo(new[] { Path.Combine(dir, "omniglot", "chardata.mat") }));
        Assert.That(DataSets.IsPresent("binarized-mnist", dir), Is.False);
    }

    [Test]
    public void DefaultDirectory_FollowsIwaeData_ThenThePlatformsConvention()
    {
        static Func<string, string?> Env(params (string K, string V)[] vars) => k => vars.FirstOrDefault(v => v.K == k).V;
        string home = Path.GetFullPath("/home/u"), local = Path.GetFullPath("/appdata/local");
        string custom = Path.GetFullPath("/srv/iwae-data");
        Assert.That(DataSets.DefaultDirectory(Env(("IWAE_DATA", custom), ("XDG_DATA_HOME", "/x")), false, home, local), Is.EqualTo(custom));
        Assert.That(DataSets.DefaultDirectory(Env(("IWAE_DATA", custom)), true, home, local), Is.EqualTo(custom));
        Assert.That(DataSets.DefaultDirectory(Env(), true, home, local), Is.EqualTo(Path.Combine(local, "iwae")));
        string xdg = Path.GetFullPath("/xdg");
        Assert.That(DataSets.DefaultDirectory(Env(("XDG_DATA_HOME", xdg)), false, home, local), Is.EqualTo(Path.Combine(xdg, "iwae")));
        Assert.That(DataSets.DefaultDirectory(Env(("XDG_DATA_HOME", "relative")), false, home, local), Is.EqualTo(Path.Combine(home, ".local", "share", "iwae")));
        Assert.That(DataSets.DefaultDirectory(Env(), false, home, local), Is.EqualTo(Path.Combine(home, ".local", "share", "iwae")));
    }
}
