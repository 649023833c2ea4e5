using Iwae.Datasets;

namespace Iwae.Tests.Packaging;

/// <summary>
/// Where <see cref="Mnist.DefaultFolder"/> looks: the repository's data/mnist-subset, the copy a package consumer's
/// output and the installed tool carry next to the assemblies, and the unpacked package in the NuGet cache.
/// </summary>
public class DefaultFolderTests : TempDirTests
{
    private string Subset(string relative)
    {
        string folder = Path.Combine(Dir, relative);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, Mnist.TrainImages + ".gz"), []);
        return folder;
    }

    private string Folder(string relative) => Directory.CreateDirectory(Path.Combine(Dir, relative)).FullName;

    [Test]
    public void FindsTheSubsetNextToTheApplication()
    {
        string expected = Subset("app/bin/Release/net10.0/data/mnist-subset");
        Assert.That(Mnist.FindSubset([Folder("app/bin/Release/net10.0")]), Is.EqualTo(expected));
    }

    [Test]
    public void FindsTheSubsetAboveTheStart_AsInTheRepository()
    {
        string expected = Subset("repo/data/mnist-subset");
        Assert.That(Mnist.FindSubset([Folder("repo/Iwae.Cli/bin/Release/net10.0")]), Is.EqualTo(expected));
    }

    [Test]
    public void FindsTheContentFilesOfAnUnpackedPackage()
    {
        // An assembly loaded straight from the NuGet cache: iwae.core/0.1.0/lib/net10.0/Iwae.Core.dll.
        string expected = Subset("iwae.core/0.1.0/contentFiles/any/any/data/mnist-subset");
        Assert.That(Mnist.FindSubset([Folder("iwae.core/0.1.0/lib/net10.0")]), Is.EqualTo(expected));
    }

    [Test]
    public void TakesTheFirstStartThatHasOne_AndSkipsEmptyStarts()
    {
        string first = Subset("a/data/mnist-subset");
        Subset("b/data/mnist-subset");
        Assert.That(Mnist.FindSubset(["", Folder("a/x"), Folder("b/x")]), Is.EqualTo(first));
        Assert.That(Mnist.FindSubset([Folder("c/x"), Folder("b/x")]), Is.EqualTo(Path.Combine(Dir, "b", "data", "mnist-subset")));
    }

    [Test]
    public void ReturnsNull_WhenNoStartHasOne()
    {
        Folder("empty/data/mnist-subset");   // the folder without the training images does not count
        Assert.That(Mnist.FindSubset([Folder("empty/x")]), Is.Null);
    }
}
