using System.IO.Compression;
using System.Text;
using Iwae.Autodiff;
using Iwae.Datasets;
using static Iwae.Tests.Datasets.ReaderFiles;

namespace Iwae.Tests.Datasets;

/// <summary>
/// The NPY, NPZ, CSV, AMAT and MAT readers on randomly corrupted files (<see cref="FuzzTests.Corrupt"/>,
/// fixed seeds): a reader may accept a file that is still valid, but the only exception it may ever throw
/// is <see cref="DataFormatException"/>, with a one-line message naming the file. Never an
/// IndexOutOfRange, Overflow, OutOfMemory or a leaked InvalidDataException from zip or zlib.
/// </summary>
public class ReaderFuzzTests
{
    private string _dir = "";

    [OneTimeSetUp]
    public void MakeDir() => Directory.CreateDirectory(_dir = Path.Combine(Path.GetTempPath(), "iwae-reader-fuzz-" + Guid.NewGuid().ToString("N")[..8]));

    [OneTimeTearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    private static float[] Ramp(int n) => Enumerable.Range(0, n).Select(i => i * 0.5f - 3f).ToArray();

    private static byte[] ValidFile(string kind) => kind switch
    {
        "npy-f4" => Npy("<f4", false, [3, 4], Bytes(Ramp(12))),
        "npy-f8-fortran" => Npy("<f8", true, [4, 3], Bytes(Ramp(12).Select(v => (double)v).ToArray())),
        "npy-u1-3d-v2" => Npy("|u1", false, [2, 3, 4], Enumerable.Range(0, 24).Select(i => (byte)(i * 11)).ToArray(), version: 2),
        "npy-b1-v3" => Npy("|b1", false, [6], [1, 0, 1, 1, 0, 0], version: 3),
        "npz-stored" => Npz(CompressionLevel.NoCompression, ("a.npy", Npy("<f4", false, [2, 3], Bytes(Ramp(6)))), ("b.npy", Npy("<i8", false, [2], Bytes(5L, -6L)))),
        "npz-deflated" => Npz(CompressionLevel.Optimal, ("a.npy", Npy("<f4", false, [2, 3], Bytes(Ramp(6)))), ("b.npy", Npy("|u1", false, [3, 2, 2], new byte[12]))),
        "mat" => Mat(
            CharMatrix("name", "fuzz"),
            Matrix("data", MxDouble, [3, 4], MiUInt8, Enumerable.Range(0, 12).Select(i => (byte)i).ToArray()),
            CellMatrix("cell", CharMatrix("", "ab"), Matrix("", MxDouble, [1, 1], MiDouble, Bytes(1.0))),
            Matrix("s", MxSingle, [2, 2], MiSingle, Bytes(Ramp(4))),
            Matrix("x", MxDouble, [1, 1], MiUInt8, [9], smallData: true)),
        "mat-compressed" => Mat(
            Compressed(Matrix("data", MxDouble, [3, 4], MiDouble, Bytes(Ramp(12).Select(v => (double)v).ToArray()))),
            Compressed(CellMatrix("c", CharMatrix("", "ab"))),
            Compressed(Matrix("t", MxUInt8, [2, 3], MiUInt8, [1, 2, 3, 4, 5, 6], flags: Logical))),
        "csv" => Encoding.UTF8.GetBytes("a,b,c\r\n1,2.5,-3e2\r\n\r\n4,5,6\n7,8,9"),
        "amat" => Encoding.UTF8.GetBytes("0 1 1 0 \n1 0 0 1 \n\n1 1 1 1\n"),
        _ => throw new ArgumentException(kind),
    };

    private static IReadOnlyList<DataArray> Read(string kind, string path) => kind switch
    {
        _ when kind.StartsWith("npy") => [NpyReader.Read(path)],
        _ when kind.StartsWith("npz") => NpyReader.ReadNpz(path),
        _ when kind.StartsWith("mat") => MatReader.Read(path),
        "csv" => [CsvReader.Read(path)],
        _ => [AmatReader.Read(path)],
    };

    [TestCase("npy-f4", 101UL, true)]
    [TestCase("npy-f8-fortran", 102UL, true)]
    [TestCase("npy-u1-3d-v2", 103UL, true)]
    [TestCase("npy-b1-v3", 104UL, true)]
    [TestCase("npz-stored", 105UL, true)]
    [TestCase("npz-deflated", 106UL, true)]
    [TestCase("mat", 107UL, true)]
    [TestCase("mat-compressed", 108UL, true)]
    [TestCase("csv", 109UL, false)]
    [TestCase("amat", 110UL, false)]
    public void Reader_OnlyEverThrowsDataFormatException(string kind, ulong seed, bool mostRejected)
    {
        byte[] valid = ValidFile(kind);
        string path = Path.Combine(_dir, "fuzz-" + kind);
        File.WriteAllBytes(path, valid);
        Assert.That(Read(kind, path), Is.Not.Empty, "the uncorrupted file reads");

        var rng = new Rng(seed);
        int rejected = 0;
        const int cases = 1500;
        for (int i = 0; i < cases; i++)
        {
            File.WriteAllBytes(path, FuzzTests.Corrupt(valid, rng));
            try
            {
                foreach (DataArray a in Read(kind, path))
                    Assert.That(a.Values, Has.Length.EqualTo((long)a.Rows * a.Cols), $"case {i}: an accepted array is consistent");
            }
            catch (DataFormatException e)
            {
                rejected++;
                Assert.That(e.Message, Does.StartWith(path + ": ").And.Not.Contain("\n").And.Not.Contain("\r"), $"case {i}");
            }
            catch (Exception e)
            {
                Assert.Fail($"case {i}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
            }
        }
        TestContext.Out.WriteLine($"{kind}: {rejected} of {cases} corruptions rejected");
        Assert.That(rejected, mostRejected ? Is.GreaterThan(cases / 2) : Is.GreaterThan(cases / 10), "corruptions are detected");
    }
}
