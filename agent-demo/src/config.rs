//! Domain configurations: what the agent is, and the static memory it starts with.
//!
//! ```
//! let dnd = agent_demo::config::DomainConfig::named("dnd").unwrap();
//! assert!(dnd.static_memory.contains("Haven"));
//! assert!(agent_demo::config::DomainConfig::named("nope").is_none());
//! ```

/// One domain the agent can play.
#[derive(Debug, Clone, Copy)]
pub struct DomainConfig {
    /// The name given to `--config`.
    pub name: &'static str,
    /// One line for `--help` and the banner.
    pub title: &'static str,
    /// Who the agent is, placed at the top of every prompt.
    pub system_prompt: &'static str,
    /// Facts the agent knows from the start, one paragraph a topic.
    pub static_memory: &'static str,
}

/// Every domain, the default first.
pub const DOMAINS: [DomainConfig; 2] = [DND, LAB];

impl DomainConfig {
    /// The domain called `name`, if any.
    #[must_use]
    pub fn named(name: &str) -> Option<DomainConfig> {
        DOMAINS.iter().copied().find(|d| d.name == name)
    }

    /// The names of every domain, for messages.
    #[must_use]
    pub fn names() -> Vec<&'static str> {
        DOMAINS.iter().map(|d| d.name).collect()
    }
}

const DND: DomainConfig = DomainConfig {
    name: "dnd",
    title: "Dungeon master for a campaign in the Lost Valley",
    system_prompt: "You are the dungeon master of a Dungeons & Dragons campaign set in the Lost Valley. \
Describe scenes vividly but briefly, keep the world consistent with what you know, and end with what the players can do next.",
    static_memory: "\
The Lost Valley is a hidden valley surrounded by impassable mountains. Ancient ruins of a vanished civilisation are scattered across it.
Haven is the central village of the valley, built around a market square and a well. Elena is the mayor of Haven and worries about the attacks on the trade routes.
Riverwatch is a fortified town on the eastern river. Sara is the captain of the Riverwatch guard and distrusts strangers.
Mountain Keep is a fortress in the western passes. Theron is a scholar at Mountain Keep who studies the ancient ruins and their magic.
The trade routes between Haven, Riverwatch and Mountain Keep have been attacked by monsters. Strange magical anomalies appear near the ruins.
The Whispering Woods lie north of Haven. Goblins from the Whispering Woods raid farms at night.
The Crystal Spire is a tower of glowing crystal in the ruins. Theron believes the Crystal Spire causes the magical anomalies.",
};

const LAB: DomainConfig = DomainConfig {
    name: "lab",
    title: "Assistant for a small biology research lab",
    system_prompt: "You are the assistant of a small biology research lab. Answer precisely, \
track experiments, samples and equipment, and point out safety rules when they apply.",
    static_memory: "\
The Kim Lab studies bacterial biofilms at the Northgate Institute. Dr. Mina Kim leads the Kim Lab.
Omar is a postdoc in the Kim Lab who runs the confocal microscope. Priya is a graduate student who maintains the strain collection.
The confocal microscope is in room B12 and must be booked a day in advance. The freezer at minus eighty degrees is in room B14 and holds the strain collection.
Experiment BF-7 tests how copper surfaces affect Pseudomonas biofilms. Experiment BF-7 needs the confocal microscope every Tuesday.
Safety rules: gloves and goggles at every bench, no food in the lab, and biohazard waste goes to the red bins in room B10.",
};
