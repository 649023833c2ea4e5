using Iwae.Cli.Commands;
using Iwae.Cli;
using Iwae.Datasets;

namespace Iwae.Tests.Cli;

/// <summary>
/// `iwae data list` and `iwae data fetch` through <see cref="IwaeCommand.Run(string[], TextWriter, TextWriter, CancellationToken)"/>, against the loopback server of
/// <see cref="TestHttpServer"/>. The CLI finds the test's sets through <see cref="DataSets.Register"/>, so no test
/// needs the internet or the real upstream's bytes.
/// </summary>
public class DataCommandTests
{
    private TestHttpServer _server = null!;
    private string _dir = "";
    private static readonly byte[] A = TestHttpServer.Bytes(200_003, seed: 1), B = TestHttpServer.Bytes(5_000, seed: 2);

    [SetUp]
    public void Start()
    {
        _server = new TestHttpServer();
        _dir = Path.Combine(Path.GetTempPath(), "iwae-data-cli-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [TearDown]
    public void Stop()
    {
        _server.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static (int Code, string Out, string Err) Run(CancellationToken cancel, params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int code = IwaeCommand.Run(args, o, e, cancel);
        return (code, o.ToString(), e.ToString());
    }

    private static (int Code, string Out, string Err) Run(params string[] args) => Run(CancellationToken.None, args);

    /// <summary>A two-file set whose upstream is <paramref name="baseUrl"/> (the test server unless given).</summary>
    private DataSetDefinition ServedSet(string? baseUrl = null)
    {
        _server.Serve("/up/a.bin", A);
        _server.Serve("/up/b.bin", B);
        baseUrl ??= _server.Url + "/up";
        return TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", baseUrl + "/a.bin", A), TestHttpServer.FileFor("b.bin", baseUrl + "/b.bin", B));
    }

    private static void AssertOneLine(string err, params string[] contains)
    {
        Assert.That(err.TrimEnd('\n', '\r').Split('\n'), Has.Length.EqualTo(1), err);
        Assert.That(err, Does.StartWith("iwae: "));
        foreach (var c in contains) Assert.That(err, Does.Contain(c));
    }

    [Test]
    public void List_ShowsEverySetItsSizeSourceAndWhetherPresent()
    {
        var (code, output, err) = Run("data", "list", "--dir", _dir);

        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain($"data directory: {Path.GetFullPath(_dir)}"));
        foreach (var set in DataSets.Builtin)
        {
            string row = output.Split('\n').Single(l => l.StartsWith(set.Name + " ", StringComparison.Ordinal));
            Assert.That(row, Does.Contain(set.Source).And.Contain(" no "), row);
        }
        Assert.That(output, Does.Contain("11.6 MB"), "mnist's four files");
        Assert.That(output, Does.Contain("licence: MIT (Zalando SE)"));
        Assert.That(Directory.Exists(_dir), Is.False, "listing creates nothing");
    }

    [Test]
    public void List_HasAHeaderRow_AndListsTheEmbeddedSubsetAsAlwaysThere()
    {
        var (code, output, err) = Run("data", "list", "--dir", _dir);

        Assert.That(code, Is.Zero, err);
        var lines = output.Split('\n');
        Assert.That(lines[1], Does.Match(@"^name +size  present +source$"), "the header row, right under the data directory");
        Assert.That(lines[2], Does.Match(@"^mnist-subset +1\.6 MB  always +built in: "), lines[2]);
        Assert.That(lines[2], Does.EndWith(Mnist.DefaultFolder()));
        Assert.That(lines[3], Does.Contain("8,004 training and 1,996 test images").And.Contain("the data when --data is not given"));
        Assert.That(lines[4], Does.StartWith("mnist "), "then the named sets");
    }

    [Test]
    public void Fetch_TheEmbeddedSubset_SaysThereIsNothingToFetch()
    {
        var (code, output, err) = Run("data", "fetch", "mnist-subset", "--dir", _dir);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("mnist-subset ships with iwae and is always there; nothing to fetch"));
        Assert.That(Directory.Exists(_dir), Is.False);
    }

    [Test]
    public void DirThatIsAFile_Exit2_NamesTheOptionAndTheProblem_ForFetchAndList()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);
        File.WriteAllText(_dir, "not a folder");
        try
        {
            var (code, output, err) = Run("data", "fetch", "test-set", "--dir", _dir);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
            AssertOneLine(err, $"iwae: --dir '{_dir}' is a file, not a folder");
            Assert.That(output, Is.Empty);

            string below = Path.Combine(_dir, "sub");
            (code, _, err) = Run("data", "fetch", "test-set", "--dir", below);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
            AssertOneLine(err, $"iwae: --dir '{below}' cannot be a folder: {_dir} is a file");

            (code, _, err) = Run("data", "list", "--dir", _dir);
            Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
            AssertOneLine(err, $"iwae: --dir '{_dir}' is a file, not a folder");
            Assert.That(_server.Requests, Is.Empty);
        }
        finally
        {
            File.Delete(_dir);
        }
    }

    [Test]
    public void Fetch_EndlessBody_Exit2_OneLineNamingTheFile_NothingLeft()
    {
        string url = _server.ServeEndless("/endless/a.bin");
        var set = TestHttpServer.SetOf("test-set", TestHttpServer.FileFor("a.bin", url, A));
        using var registered = DataSets.Register(set);

        var (code, _, err) = Run("data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, $"{Path.Combine(Path.GetFullPath(_dir), "test-set", "a.bin")}: {url} sends more than the published size of {A.Length} bytes");
        Assert.That(Directory.Exists(_dir), Is.False);
    }

    [Test]
    public void List_SaysWhichSetsAreFetched_AndWhichHalfDone()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);
        string Row() => Run("data", "list", "--dir", _dir).Out.Split('\n').Single(l => l.StartsWith("test-set ", StringComparison.Ordinal));

        Assert.That(Row(), Does.Contain(" no "));
        Assert.That(Run("data", "fetch", "test-set", "--dir", _dir).Code, Is.Zero);
        Assert.That(Row(), Does.Contain(" yes "));
        File.Delete(Path.Combine(_dir, "test-set", "b.bin"));
        File.WriteAllBytes(Path.Combine(_dir, "test-set", "b.bin.part"), B[..100]);
        Assert.That(Row(), Does.Contain(" 1 of 2 files, .part "));
    }

    [Test]
    public void Fetch_DownloadsVerifies_AndARerunFindsItThere()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);

        var (code, output, err) = Run("data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.Zero, err);
        Assert.That(err, Is.Empty);
        string folder = Path.GetFullPath(Path.Combine(_dir, "test-set"));
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "a.bin")), Is.EqualTo(A));
        Assert.That(File.ReadAllBytes(Path.Combine(folder, "b.bin")), Is.EqualTo(B));
        Assert.That(output, Does.Contain($"test-set (2 files, 205.0 kB) from {_server.Url}/up/ into {folder}"));
        Assert.That(output, Does.Contain($"  a.bin: downloading of 200.0 kB from {_server.Url}/up/a.bin"));
        Assert.That(output, Does.Match(@"a\.bin +200\.0 kB +downloaded, sha256 verified"));
        Assert.That(output, Does.Contain($"test-set is ready in {folder}"));

        (code, output, _) = Run("data", "fetch", "test-set", "--dir", _dir);
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Match(@"b\.bin +5\.0 kB +already there, sha256 verified"));
        Assert.That(_server.Requests, Has.Count.EqualTo(2), "the rerun downloads nothing");
    }

    [Test]
    public void Fetch_AfterACut_ResumesAndSaysSo()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);
        _server.CutAfter = (i, path) => i == 0 ? 1000 : null;

        var (code, _, err) = Run("data", "fetch", "test-set", "--dir", _dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, $"{_server.Url}/up/a.bin: connection lost after 1.0 kB of 200.0 kB", "run again to resume");

        (code, var output, err) = Run("data", "fetch", "test-set", "--dir", _dir);
        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain("a.bin: resuming at 1.0 kB of 200.0 kB"));
        Assert.That(_server.Requests.ElementAt(1).Range, Is.EqualTo("bytes=1000-"));
    }

    [Test]
    public void Fetch_Mirror_TakesTheFilesFromThere()
    {
        var set = ServedSet(baseUrl: $"http://127.0.0.1:{TestHttpServer.DeadPort()}/upstream");
        _server.Serve("/mirror/a.bin", A);
        _server.Serve("/mirror/b.bin", B);
        using var registered = DataSets.Register(set);

        var (code, output, err) = Run("data", "fetch", "test-set", "--dir", _dir, "--mirror", _server.Url + "/mirror");

        Assert.That(code, Is.Zero, err);
        Assert.That(output, Does.Contain($"from {_server.Url}/mirror into"));
        Assert.That(_server.Requests.Select(r => r.Path), Is.EqualTo(new[] { "/mirror/a.bin", "/mirror/b.bin" }));
    }

    [Test]
    public void Fetch_ChecksumMismatch_Exit2_OneLineWithFileExpectedAndActual_NothingLeft()
    {
        var good = ServedSet();
        string wrong = new('a', 64);
        var set = good with { Files = [good.Files[0] with { Checksum = wrong }, good.Files[1]] };
        using var registered = DataSets.Register(set);

        var (code, _, err) = Run("data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, "a.bin", $"expected {wrong}", $"got {good.Files[0].Checksum}");
        Assert.That(Directory.Exists(_dir), Is.False, "nothing it created: no part, no empty folder");
    }

    [Test]
    public void Fetch_404_Exit2_OneLineWithTheUrl()
    {
        var good = ServedSet();
        string missing = _server.Url + "/up/gone.bin";
        var set = good with { Files = [good.Files[0] with { Name = "gone.bin", Url = missing }], Splits = [] };
        using var registered = DataSets.Register(set);

        var (code, _, err) = Run("data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, $"{missing}: HTTP 404 Not Found");
        Assert.That(Directory.Exists(_dir), Is.False);
    }

    [Test]
    public void Fetch_ServerDown_Exit2_OneLine()
    {
        var set = ServedSet(baseUrl: $"http://127.0.0.1:{TestHttpServer.DeadPort()}/up");
        using var registered = DataSets.Register(set);

        var (code, _, err) = Run("data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, "/up/a.bin: connection refused");
    }

    [TestCase("no-such-set", "unknown data set 'no-such-set'; known: mnist, fashion-mnist, omniglot, binarized-mnist")]
    public void Fetch_UnknownName_Exit2_ListsTheKnownOnes(string name, string message)
    {
        var (code, output, err) = Run("data", "fetch", name, "--dir", _dir);
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, message);
        Assert.That(output, Is.Empty);
    }

    [Test]
    public void Fetch_BadMirror_Exit2_BeforeAnything()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);
        var (code, output, err) = Run("data", "fetch", "test-set", "--dir", _dir, "--mirror", "ftp://example.org");
        Assert.That(code, Is.EqualTo(IwaeCommand.BadInput));
        AssertOneLine(err, "mirror 'ftp://example.org' is not an absolute http or https URL");
        Assert.That(output, Is.Empty);
        Assert.That(_server.Requests, Is.Empty);
    }

    [Test]
    public void Fetch_Interrupted_Exit130_SaysHowToResume()
    {
        var set = ServedSet();
        using var registered = DataSets.Register(set);
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        var (code, _, err) = Run(cancel.Token, "data", "fetch", "test-set", "--dir", _dir);

        Assert.That(code, Is.EqualTo(IwaeCommand.Interrupted));
        AssertOneLine(err, "interrupted; the partial download is kept, run the same command again to resume it");
    }

    [Test]
    public void Help_DescribesBothSubcommands()
    {
        var (code, output, _) = Run("data", "--help");
        Assert.That(code, Is.Zero);
        Assert.That(output, Does.Contain("list").And.Contain("fetch"));
        (_, output, _) = Run("data", "fetch", "--help");
        Assert.That(output, Does.Contain("--dir").And.Contain("--mirror").And.Contain(DataSets.MirrorVariable));
    }

    [Test]
    public void PlainProgress_StartLine_ThenAStatusLinePerInterval()
    {
        double now = 0;
        var output = new StringWriter();
        var plain = new PlainDownloadProgress(output, () => now);
        var source = new Uri("http://127.0.0.1/a.bin");
        plain.Report(new DownloadProgress("a.bin", source, 0, 2_000_000, 0));
        now = 1;
        plain.Report(new DownloadProgress("a.bin", source, 500_000, 2_000_000, 0));
        now = 1 + DataCommand.PlainInterval;
        plain.Report(new DownloadProgress("a.bin", source, 1_000_000, 2_000_000, 0));
        plain.Report(new DownloadProgress("b.bin", source, 300, null, 300));

        Assert.That(output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries), Is.EqualTo(new[]
        {
            "  a.bin: downloading of 2.0 MB from http://127.0.0.1/a.bin",
            "  a.bin: 50%, 1.0 MB of 2.0 MB",
            "  b.bin: resuming at 300 B from http://127.0.0.1/a.bin",
        }));
    }
}
