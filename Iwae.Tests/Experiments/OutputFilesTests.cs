using Iwae.Experiments;

namespace Iwae.Tests.Experiments;

/// <summary>
/// <see cref="OutputFiles"/>: an output that is an input is refused through any spelling of its path (".", "..", a symbolic
/// link), as are two outputs in one file and outputs where the file system has a file for a folder or a folder for a file;
/// staged outputs appear all together on commit or not at all, in folders created as needed.
/// </summary>
public class OutputFilesTests : TempDirTests
{
    private string P(params string[] parts) => Path.Combine([Dir, .. parts]);

    private static void Refused(Action check, params string[] mentions)
    {
        var e = Assert.Throws<ArgumentException>(() => check())!;
        foreach (var m in mentions) Assert.That(e.Message, Does.Contain(m));
        Assert.That(e.Message, Does.Not.Contain("(Parameter").And.Not.Contain("\n"));
    }

    [Test]
    public void Check_AnOutputThatIsAnInput_IsRefusedThroughEverySpelling()
    {
        string input = Write("c.safetensors", [1, 2, 3]);
        Directory.CreateDirectory(P("sub"));
        File.CreateSymbolicLink(P("link.safetensors"), input);
        Directory.CreateSymbolicLink(P("dirlink"), P("sub"));
        string[] spellings =
        [
            input,
            P("sub", "..", "c.safetensors"),
            P(".", "c.safetensors"),
            Dir + Path.DirectorySeparatorChar + Path.DirectorySeparatorChar + "c.safetensors",
            P("link.safetensors"),
            P("dirlink", "..", "c.safetensors"),    // through a link to a folder, ".." is that folder's parent
        ];
        foreach (string output in spellings)
            Refused(() => OutputFiles.Check([("--checkpoint", input)], [("--out", output)]), "--out " + output, "--checkpoint " + input);
        // And the other way round: the input spelt through the link.
        Refused(() => OutputFiles.Check([("--checkpoint", P("link.safetensors"))], [("--out", input)]), "--out", "--checkpoint");
    }

    [Test]
    public void Check_TwoOutputsInOneFile_AreRefused()
        => Refused(() => OutputFiles.Check([], [("--out", P("m.safetensors")), ("--test-data-out", P("sub", "..", "m.safetensors"))]),
            "--test-data-out", "is the same file as --out " + P("m.safetensors"));

    [Test]
    public void Check_FoldersForFilesAndFilesForFolders_AreRefused()
    {
        string file = Write("data.npy", [1]);
        Refused(() => OutputFiles.Check([], [("--out", Dir)]), $"--out {Dir} is a folder");
        Refused(() => OutputFiles.Check([], [("--out", P("data.npy", "m.safetensors"))]), "data.npy is a file, not a folder");
        Refused(() => OutputFiles.Check([], [("--out", P("data.npy", "a", "b", "m.safetensors"))]), "data.npy is a file, not a folder");
        Refused(() => OutputFiles.Check([], [], [("--out", file)]), $"--out {file} is a file, not a folder");
        Refused(() => OutputFiles.Check([("--data", file)], [], [("--out", file)]), $"--out {file} is the --data file");
        Refused(() => OutputFiles.Check([], [("--out", "")]), "--out is empty");
        Refused(() => OutputFiles.Check([("--checkpoint", "")], [("--out", P("m.safetensors"))]), "--checkpoint is empty");
    }

    [Test]
    public void Check_DistinctPaths_MissingInputsAndNulls_Pass()
    {
        string input = Write("c.safetensors", [1]);
        Assert.DoesNotThrow(() => OutputFiles.Check(
            [("--checkpoint", input), ("--data", "mnist"), ("--data", null)],     // a data set's name is no path on disk
            [("--out", P("new", "deeper", "m.safetensors")), ("--test-data-out", null), ("--out", P("c.safetensors.csv"))],
            [("--out", P("run")), ("--out", Dir)]));
    }

    [Test]
    public void Write_ThenCommit_RenamesEveryOutput_IntoFoldersCreatedAsNeeded()
    {
        string old = Write("a.bin", [9]);
        using (var outputs = new OutputFiles())
        {
            outputs.Write("--out", old, t => File.WriteAllBytes(t, [1]));
            outputs.Write("--other", P("x", "y", "b.bin"), t => File.WriteAllBytes(t, [2]));
            Assert.That(File.ReadAllBytes(old), Is.EqualTo(new byte[] { 9 }), "nothing renamed before the commit");
            Assert.That(File.Exists(P("x", "y", "b.bin")), Is.False);
            outputs.Commit();
        }
        Assert.That(File.ReadAllBytes(old), Is.EqualTo(new byte[] { 1 }));
        Assert.That(File.ReadAllBytes(P("x", "y", "b.bin")), Is.EqualTo(new byte[] { 2 }));
        Assert.That(Directory.GetFiles(Dir, "*", SearchOption.AllDirectories).Select(Path.GetFileName), Is.EquivalentTo(new[] { "a.bin", "b.bin" }));
    }

    [Test]
    public void Write_FailingBeforeTheCommit_LeavesNoOutput_NoTemporary_AndNoFolderItCreated()
    {
        string old = Write("a.bin", [9]);
        var e = Assert.Throws<IOException>(() =>
        {
            using var outputs = new OutputFiles();
            outputs.Write("--out", old, t => File.WriteAllBytes(t, [1]));
            outputs.Write("--test-data-out", P("new", "deeper", "b.bin"), t =>
            {
                File.WriteAllBytes(t, [2]);
                throw new IOException($"No space left on device : '{t}'");
            });
            outputs.Commit();
        })!;
        Assert.That(e.Message, Is.EqualTo($"--test-data-out {P("new", "deeper", "b.bin")}: cannot write it (No space left on device)"));
        Assert.That(File.ReadAllBytes(old), Is.EqualTo(new byte[] { 9 }), "the existing file is unchanged");
        Assert.That(Directory.GetFileSystemEntries(Dir, "*", SearchOption.AllDirectories), Is.EqualTo(new[] { old }), "no temporary file, no new folder");
    }

    [Test]
    public void Write_PermissionDenied_NamesTheOptionAndPath_NotTheTemporaryFile()
    {
        using var outputs = new OutputFiles();
        string path = P("m.safetensors");
        var e = Assert.Throws<IOException>(() => outputs.Write("--out", path, t => throw new UnauthorizedAccessException($"Access to the path '{t}' is denied.")))!;
        Assert.That(e.Message, Is.EqualTo($"--out {path}: cannot write it (permission denied)"));
    }
}
