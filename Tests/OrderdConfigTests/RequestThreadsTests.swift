import Testing
@testable import OrderdConfig

/// `server.request_workers`: a number is used as it is; `auto` (the default) chooses by the store and the CPUs.
@Suite struct RequestThreadsTests {
    @Test func autoIsTheDefaultAndReadsBack() throws {
        #expect(OrderdConfiguration().server.requestWorkers == nil)
        let configuration = try ConfigLoader.parse(text: "[server]\nrequest_workers = auto\n", file: "/x.ini")
        #expect(configuration.server.requestWorkers == nil)
        #expect(configuration.renderINI().contains("\nrequest_workers = auto\n"))
    }

    @Test func autoStartsOnePerCPUWithSQLiteAtLeastTwo() throws {
        let configuration = try ConfigLoader.parse(text: "[store]\ndriver = sqlite\n", file: "/x.ini")
        #expect([1, 2, 3, 12, 256, 1024].map { configuration.requestThreads(cpus: $0) } == [2, 2, 3, 12, 256, 256])
    }

    /// Each PostgreSQL order holds its thread until its commit comes back: the CPU count says nothing about how
    /// many may wait at once.
    @Test func autoStartsSixteenWithPostgreSQL() {
        var configuration = OrderdConfiguration()
        configuration.store.driver = .postgres
        #expect([1, 2, 64].map { configuration.requestThreads(cpus: $0) } == [16, 16, 16])
    }

    @Test func aNumberIsUsedAsItIs() throws {
        var configuration = try ConfigLoader.parse(text: "[server]\nrequest_workers = 7\n", file: "/x.ini")
        #expect(configuration.server.requestWorkers == 7)
        #expect(configuration.requestThreads(cpus: 64) == 7)
        configuration.store.driver = .postgres
        #expect(configuration.requestThreads(cpus: 2) == 7)
        #expect(configuration.renderINI().contains("\nrequest_workers = 7\n"))
    }
}
